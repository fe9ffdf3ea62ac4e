"""Load events from a JSON Lines file (backfills, migrations from another system)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from players.event_ingestion import MAX_BATCH_ITEMS, ingest_events
from players.loading import BatchHandler
from players.management.commands._jsonl import JsonLinesCommand


class Command(JsonLinesCommand):
    help = (
        "Queue events for PEP from a JSON Lines file, with the ingestion API's validation. "
        "Each line is an event object as POST /ingest/v1/events takes it. Load players first."
    )
    label = "events"

    def add_arguments(self, parser: Any) -> None:
        super().add_arguments(parser)
        parser.set_defaults(batch_size=1000)

    def handler(self, options: dict[str, Any]) -> BatchHandler:
        if options["batch_size"] > MAX_BATCH_ITEMS:
            raise CommandError(f"--batch-size is at most {MAX_BATCH_ITEMS}")
        return ingest_events
