"""`POST /api/webhooks/v1/pep-events`: PEP's event webhooks (docs/webhooks.md).

The signature is the authentication, so DRF's authentication, permission and throttling are
off (PEP asks for no rate limiting). The body is read raw, never through `request.data`: the
signature covers its bytes. The wire format is described for OpenAPI in webhooks/schema.py.
"""

from __future__ import annotations

from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pepbridge.api.exceptions import ApiError
from pepbridge.api.parsers import JSONParser
from webhooks.intake import delivery_receive
from webhooks.security import WebhookRefused

_CHALLENGE = {"WWW-Authenticate": 'HMAC-SHA256 header="x-gmz-pep-webhook-signature"'}


class PepEventsView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []
    parser_classes = [JSONParser]  # for the schema only: request.data is never read

    def post(self, request: Request) -> Response:
        try:
            received = delivery_receive(meta=request.META, read_body=lambda: request.body)
        except WebhookRefused as exc:
            headers = _CHALLENGE if exc.status == 401 else None
            raise ApiError(exc.status, exc.message, headers=headers) from None
        return Response({"received": received.event_count}, status=202)
