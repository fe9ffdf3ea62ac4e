"""The one JSON error shape of the inbound APIs, for every 4xx and 5xx (NestJS style).

`{"statusCode": 400, "error": "Bad Request", "message": "<sentence>", "errors": {...}}`;
`errors` (DRF's field-error structure, nested for nested input) only for field errors.
A 500 never carries a traceback or an exception message: it is logged instead.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from pepbridge.api.exceptions import ApiError

logger = logging.getLogger("pepbridge.api")

INVALID_FIELDS = "Some fields are invalid."


def error_body(status: int, message: str, errors: Mapping[str, Any] | None = None) -> dict:
    """Build the error shape; used by the handler and by non-DRF views (token endpoint, 404)."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    body: dict[str, Any] = {"statusCode": status, "error": phrase, "message": message}
    if errors:
        body["errors"] = dict(errors)
    return body


def _message_and_errors(exc: exceptions.APIException) -> tuple[str, Mapping[str, Any] | None]:
    if isinstance(exc, ApiError):
        return exc.message, exc.errors
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        if isinstance(detail, dict):
            return INVALID_FIELDS, detail
        messages = [str(item) for item in detail] if isinstance(detail, list) else [str(detail)]
        return " ".join(messages) or INVALID_FIELDS, {"non_field_errors": messages}
    return str(exc.detail), None


def _too_big_message() -> str:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    over = f"over the limit of {limit:,} bytes" if limit is not None else "too large"
    return f"The body is {over}. Split it into smaller requests."


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's handler (status, WWW-Authenticate, Retry-After, rollback), then our body."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        # Raised by request.body past DATA_UPLOAD_MAX_MEMORY_SIZE: the caller's fault, and
        # permanent, so a 413 (a 500 would make PEP retry the same body five times).
        exc = ApiError(413, _too_big_message())
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        logger.exception("api_unhandled_error view=%s", type(context.get("view")).__name__)
        set_rollback()
        return Response(error_body(500, "Internal server error."), status=500)
    message, errors = _message_and_errors(exc)
    response.data = error_body(response.status_code, message, errors)
    for name, value in getattr(exc, "headers", {}).items():
        response[name] = value
    return response
