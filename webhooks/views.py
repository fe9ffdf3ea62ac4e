"""`POST /api/webhooks/v1/pep-events`: PEP's event webhooks (docs/webhooks.md).

The signature is the authentication, so DRF's authentication, permission and throttling are
off (PEP asks for no rate limiting). The body is read raw, never through `request.data`: the
signature covers its bytes. The serializers below only describe the wire format for OpenAPI.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pepbridge.api.exceptions import ApiError
from pepbridge.api.parsers import JSONParser
from pepbridge.api.schema import error_examples, error_responses
from webhooks.intake import delivery_receive
from webhooks.security import WebhookRefused

_CHALLENGE = {"WWW-Authenticate": 'HMAC-SHA256 header="x-gmz-pep-webhook-signature"'}
_ERRORS = {
    400: "Malformed JSON, or not {events: [...]} (logged and counted, nothing stored)",
    401: "Signature or timestamp missing, wrong or outside the window",
    403: "The caller's address is not in PEP_WEBHOOK_ALLOWED_IPS",
    409: "The same signed request was received before",
    413: "Body over PEP_WEBHOOK_MAX_BODY_BYTES",
}
_EXAMPLE = {
    "events": [
        {
            "eventName": "level_up",
            "eventDate": "2026-12-03T09:00:00.000Z",
            "payload": [
                {"key": "PlayerId", "type": "string", "value": "p-1001"},
                {"key": "CurrentLevel", "type": "number", "value": "9"},
                {
                    "key": "RewardExternalDescription",
                    "type": "i18n",
                    "value": {"languages": [{"language": "EN", "value": "100 Coins"}]},
                },
            ],
        }
    ]
}


class PayloadItemSerializer(serializers.Serializer):
    key = serializers.CharField()
    type = serializers.CharField(help_text="string, number, boolean, date or i18n")
    value = serializers.JSONField(help_text="A string; an object for i18n.")


class PepEventSerializer(serializers.Serializer):
    eventName = serializers.CharField(max_length=128)
    eventDate = serializers.CharField(required=False, help_text="ISO-8601")
    payload = PayloadItemSerializer(many=True)


class PepEventsView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []
    parser_classes = [JSONParser]  # for the schema only: request.data is never read

    @extend_schema_serializer(component_name="PepEventsRequest")
    class InputSerializer(serializers.Serializer):
        events = PepEventSerializer(many=True)

    @extend_schema_serializer(component_name="PepEventsAccepted")
    class OutputSerializer(serializers.Serializer):
        received = serializers.IntegerField(help_text="Events in the request")
        new = serializers.IntegerField(help_text="Events not seen before (stored now)")

    @extend_schema(
        operation_id="webhooks_pep_events",
        tags=["PEP event webhooks (PEP → pepbridge)"],
        auth=[],
        request=InputSerializer,
        responses={202: OutputSerializer, **error_responses(_ERRORS)},
        examples=[
            *error_examples(*_ERRORS),
            OpenApiExample("A level up", request_only=True, value=_EXAMPLE),
            OpenApiExample(
                "Accepted",
                response_only=True,
                status_codes=["202"],
                value={"received": 1, "new": 1},
            ),
        ],
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
