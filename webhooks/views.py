"""`POST /api/webhooks/v1/pep-events`: PEP's event webhooks (docs/webhooks.md).

The signature is the authentication, so DRF's authentication, permission and throttling are
off (PEP asks for no rate limiting). The body is read raw: the signature covers its bytes.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pepbridge.api.exceptions import ApiError
from webhooks.intake import delivery_receive
from webhooks.security import WebhookRefused

_CHALLENGE = {"WWW-Authenticate": 'HMAC-SHA256 header="x-gmz-pep-webhook-signature"'}


class PepEventsView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []
    parser_classes: list = []  # never parsed by DRF: delivery_receive reads the raw bytes

    @extend_schema(
        tags=["PEP event webhooks (PEP → pepbridge)"],
        request=None,
        responses={202: OpenApiResponse(description="Stored; processed in the background")},
    )
    def post(self, request: Request) -> Response:
        try:
            received = delivery_receive(meta=request.META, read_body=lambda: request.body)
        except WebhookRefused as exc:
            headers = _CHALLENGE if exc.status == 401 else None
            raise ApiError(exc.status, exc.message, headers=headers) from None
        return Response(
            {"received": received.delivery.event_count, "new": received.new_events}, status=202
        )
