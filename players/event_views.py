"""The events half of the ingestion API: one event, or a batch of up to 1,000.

A batch answers 202 with one result per item: accepted, duplicate (already had it: not sent
again), conflict (same id, other content: nothing written) or rejected (field errors: nothing
written). The valid items of a batch are kept whatever happens to the others.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from pepbridge.api.exceptions import ApiError
from pepbridge.api.schema import error_examples
from players.event_ingestion import (
    MAX_BATCH_ITEMS,
    EventConflict,
    EventRejected,
    ingest_events,
    record_event,
)
from players.event_kinds import EVENT_KINDS
from players.ingest_api import INGEST_ERRORS, IngestView, ingest_schema_tags
from players.results import DUPLICATE

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


class EventView(IngestView):
    @extend_schema(
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
    def post(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise ApiError(400, "The body must be one JSON object (an event).")
        try:
            result = record_event(request.data)
        except EventRejected as exc:
            raise ApiError(400, "The event has invalid fields.", errors=exc.errors) from None
        except EventConflict as exc:
            raise ApiError(409, str(exc)) from None
        code = status.HTTP_200_OK if result.status == DUPLICATE else status.HTTP_202_ACCEPTED
        return Response({"index": 0, **result.as_json()}, status=code)


class EventBatchView(IngestView):
    @extend_schema(
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
    def post(self, request: Request) -> Response:
        events = _batch_items(request.data)
        results = ingest_events(events)
        counts = Counter(result.status for result in results)
        body: dict[str, Any] = {
            name: counts.get(name, 0) for name in ("accepted", "duplicate", "conflict", "rejected")
        }
        body["results"] = [{"index": i, **r.as_json()} for i, r in enumerate(results)]
        return Response(body, status=status.HTTP_202_ACCEPTED)


def _batch_items(data: Any) -> list[Any]:
    events = data.get("events") if isinstance(data, dict) else None
    if not isinstance(events, list):
        raise ApiError(
            400, 'The body must be {"events": [...]}.', errors={"events": ["Expected a list."]}
        )
    if not events:
        raise ApiError(400, "The batch is empty.", errors={"events": ["At least one event."]})
    if len(events) > MAX_BATCH_ITEMS:
        message = f"A batch holds at most {MAX_BATCH_ITEMS:,} events; this one has {len(events):,}."
        raise ApiError(400, message, errors={"events": [message]})
    return events
