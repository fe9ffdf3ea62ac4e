"""The OpenAPI documentation of PEP's event webhook intake, kept out of webhooks/views.py.

The intake never parses through serializers (it verifies the signature over the raw bytes and
decodes in webhooks/intake.py); the serializers here only describe the wire format. Applied to
the view when the app is ready (WebhooksConfig); see bonuses/schema.py.
"""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import serializers

from pepbridge.api.schema import error_examples, error_responses
from webhooks.views import PepEventsView

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


@extend_schema_serializer(component_name="PepEventsRequest")
class PepEventsRequestSerializer(serializers.Serializer):
    events = PepEventSerializer(many=True)


@extend_schema_serializer(component_name="PepEventsAccepted")
class PepEventsAcceptedSerializer(serializers.Serializer):
    received = serializers.IntegerField(
        help_text="Events in the request (stored with it; split into the inbox by the worker)"
    )


extend_schema_view(
    post=extend_schema(
        operation_id="webhooks_pep_events",
        tags=["PEP event webhooks (PEP → pepbridge)"],
        auth=[],
        request=PepEventsRequestSerializer,
        responses={202: PepEventsAcceptedSerializer, **error_responses(_ERRORS)},
        examples=[
            *error_examples(*_ERRORS),
            OpenApiExample("A level up", request_only=True, value=_EXAMPLE),
            OpenApiExample(
                "Accepted",
                response_only=True,
                status_codes=["202"],
                value={"received": 1},
            ),
        ],
    )
)(PepEventsView)
