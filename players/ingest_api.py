"""What every ingestion API view shares: the "ingest" scope, exact JSON, size limits, errors.

The ingestion API is the operator platform's way in. It is separate from the Operator API that
PEP calls: a credential needs the "ingest" scope here and the "pep" scope there, so a PEP
credential can never write operator data and the other way round.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.views import APIView

from pepbridge.api.exceptions import ApiError
from pepbridge.api.parsers import ExactJSONParser
from pepbridge.api.permissions import RequiresIngestScope
from players import services

_STATUS_OF = {
    services.PlayerNotFound: 404,
    services.PlayerConflict: 409,
    services.PlayerErased: 410,
    services.PlayerInvalid: 400,
}


class IngestView(APIView):
    """Base of the ingestion views: ingest scope, Decimal-exact JSON, a byte limit on bodies."""

    permission_classes = [RequiresIngestScope]
    parser_classes = [ExactJSONParser]
    max_body_bytes: int | None = None  # None: settings.INGEST_MAX_BODY_BYTES

    @property
    def body_byte_limit(self) -> int:
        """Read by the JSON parser too, so a chunked body without Content-Length is bounded."""
        return self.max_body_bytes or settings.INGEST_MAX_BODY_BYTES

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # authenticate first: say nothing to strangers
        if request.method in ("POST", "PUT", "PATCH"):
            check_body_size(request, self.body_byte_limit)


def check_body_size(request: Request, limit: int) -> None:
    """Refuse a body over `limit` bytes from its Content-Length, before reading any of it."""
    raw = request.META.get("CONTENT_LENGTH") or "0"
    try:
        length = int(raw)
    except ValueError:
        raise ApiError(400, f"Content-Length {raw!r} is not a number.") from None
    if length > limit:
        raise ApiError(
            413,
            f"The body is {length:,} bytes; the limit is {limit:,} bytes. "
            "Split it into smaller requests.",
        )


def api_error(exc: services.PlayerError) -> ApiError:
    """A player service's refusal as the API's one error shape."""
    status = next((code for cls, code in _STATUS_OF.items() if isinstance(exc, cls)), 400)
    return ApiError(status, str(exc), errors=exc.errors or None)
