"""The OpenAPI documentation of the events half of the ingestion API (players/event_views.py).

The serializers here only describe the wire format: the views validate through the event kinds
(players.event_kinds). Applied to the views when the app is ready (EventsConfig); see
bonuses/schema.py.
"""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers

from pepbridge.api.schema import error_examples
from players.event_ingestion import MAX_BATCH_ITEMS
from players.event_kinds import EVENT_KINDS
from players.event_views import EventBatchView, EventView
from players.schema import INGEST_ERRORS, ingest_schema_tags

_ROUND = {
    "type": "casino_round",
    "playerId": "p-10042",
    "roundId": "r-77001",
    "currency": "EUR",
    "gameId": "starburst",
    "gameName": "Starburst",
    "gameCategoryId": "slots",
    "gameCategoryName": "Slots",
    "gameProviderId": "netent",
    "gameProviderName": "NetEnt",
    "transactions": [
        {
            "transactionId": "t-1",
            "transactionType": "BET",
            "realMoneyAmount": 2.5,
            "bonusMoneyAmount": 0,
            "realMoneyBalance": 97.5,
            "bonusMoneyBalance": 0,
            "date": "2024-05-02T08:00:00Z",
        },
        {
            "transactionId": "t-2",
            "transactionType": "WIN",
            "realMoneyAmount": 10,
            "bonusMoneyAmount": 0,
            "realMoneyBalance": 107.5,
            "bonusMoneyBalance": 0,
            "date": "2024-05-02T08:00:03Z",
            "betAmount": 2.5,
        },
    ],
}
_DEPOSIT = {
    "type": "money_transaction",
    "playerId": "p-10042",
    "transactionId": "d-5001",
    "transactionType": "DEPOSIT",
    "transactionStatus": "APPROVED",
    "amount": 50,
    "currency": "EUR",
    "date": "2024-05-02T07:55:00Z",
    "realMoneyBalance": 100,
    "bonusMoneyBalance": 0,
    "paymentMethod": "card",
}
_LOGIN = {"type": "login", "playerId": "p-10042", "date": "2024-05-02T07:50:00Z"}


def _schema_serializer(kind: str) -> type[serializers.Serializer]:
    """The kind's serializer with its `type` discriminator, for the OpenAPI schema only."""
    base = EVENT_KINDS[kind].serializer
    name = "".join(part.title() for part in kind.split("_")) + "Event"
    type_field = serializers.ChoiceField(choices=[kind])
    return type(name, (base,), {"type": type_field, "__module__": __name__})


EVENT_SCHEMA = PolymorphicProxySerializer(
    component_name="IngestEvent",
    serializers={kind: _schema_serializer(kind) for kind in EVENT_KINDS},
    resource_type_field_name="type",
)


class ItemResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["accepted", "duplicate", "conflict", "rejected"])
    id = serializers.CharField(required=False)
    message = serializers.CharField(required=False)
    # The wire name is the contract's; it shadows Serializer.errors only for the schema.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(), required=False
    )


class BatchOutputSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicate = serializers.IntegerField()
    conflict = serializers.IntegerField()
    rejected = serializers.IntegerField()
    results = ItemResultSerializer(many=True)


class BatchInputSerializer(serializers.Serializer):
    events = serializers.ListField(child=EVENT_SCHEMA, min_length=1, max_length=MAX_BATCH_ITEMS)


extend_schema_view(
    post=extend_schema(
        operation_id="ingest_event",
        summary="Send one event",
        description=(
            "Validates the event, builds PEP's message and queues it. Idempotent on the "
            "operator's id (roundId, transactionId, eventId): the same event again answers 200 "
            "`duplicate` and is not sent twice; the same id with other content answers 409."
        ),
        request=EVENT_SCHEMA,
        responses={
            202: OpenApiResponse(ItemResultSerializer, description="Accepted and queued"),
            200: OpenApiResponse(ItemResultSerializer, description="Duplicate: already accepted"),
            **INGEST_ERRORS,
        },
        examples=[
            OpenApiExample("Casino round (BET and WIN)", value=_ROUND, request_only=True),
            OpenApiExample("Deposit", value=_DEPOSIT, request_only=True),
            OpenApiExample("Login", value=_LOGIN, request_only=True),
            OpenApiExample(
                "Accepted",
                value={"index": 0, "status": "accepted", "id": "d-5001"},
                response_only=True,
                status_codes=["202"],
            ),
            *error_examples(*INGEST_ERRORS),
        ],
        tags=ingest_schema_tags,
    )
)(EventView)

extend_schema_view(
    post=extend_schema(
        operation_id="ingest_event_batch",
        summary="Send up to 1,000 events",
        description=(
            "Each event is handled on its own: the answer is 202 with one result per event, in "
            "order. A rejected event names its fields and writes nothing; the valid events of "
            "the same batch are kept. More than 1,000 events, or a body over the size limit, "
            "is refused whole."
        ),
        request=BatchInputSerializer,
        responses={202: BatchOutputSerializer, **INGEST_ERRORS},
        examples=[
            OpenApiExample(
                "A deposit, a login and a round",
                value={"events": [_DEPOSIT, _LOGIN, _ROUND]},
                request_only=True,
            ),
            OpenApiExample(
                "One accepted, one rejected",
                value={
                    "accepted": 1,
                    "duplicate": 0,
                    "conflict": 0,
                    "rejected": 1,
                    "results": [
                        {"index": 0, "status": "accepted", "id": "d-5001"},
                        {
                            "index": 1,
                            "status": "rejected",
                            "errors": {"date": ["Include the time zone."]},
                        },
                    ],
                },
                response_only=True,
                status_codes=["202"],
            ),
            *error_examples(*INGEST_ERRORS),
        ],
        tags=ingest_schema_tags,
    )
)(EventBatchView)
