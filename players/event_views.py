"""The events half of the ingestion API: one event, or a batch of up to 1,000.

A batch answers 202 with one result per item: accepted, duplicate (already had it: not sent
again), conflict (same id, other content: nothing written) or rejected (field errors: nothing
written). The valid items of a batch are kept whatever happens to the others. The OpenAPI
documentation is in players/event_schema.py.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from pepbridge.api.exceptions import ApiError
from players.event_ingestion import (
    MAX_BATCH_ITEMS,
    EventConflict,
    EventRejected,
    ingest_events,
    record_event,
)
from players.ingest_api import IngestView
from players.results import DUPLICATE


class EventView(IngestView):
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
