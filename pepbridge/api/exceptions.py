"""The domain error that services called by inbound-API views raise; rendered in the one shape."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework.exceptions import APIException


class ApiError(APIException):
    """Refuse a request with `status`, a human sentence and optional field errors.

    Rendered by `pepbridge.api.exception_handler.api_exception_handler` as
    `{"statusCode", "error", "message", "errors"?}`; `errors` follows DRF's field-error
    structure (`{"field": ["msg"], "nested": {"field": ["msg"]}}`).
    """

    def __init__(
        self,
        status: int,
        message: str,
        errors: Mapping[str, Any] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail=message)
        self.status_code = status
        self.message = message
        self.errors = dict(errors) if errors else None
        self.headers = dict(headers or {})
