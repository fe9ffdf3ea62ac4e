"""Load players from a JSON Lines file (backfills, migrations from another system)."""

from __future__ import annotations

from argparse import ArgumentParser
from functools import partial
from typing import Any

from players.loading import BatchHandler, ingest_players
from players.management.commands._jsonl import JsonLinesCommand


class Command(JsonLinesCommand):
    help = (
        "Create or update players from a JSON Lines file, with the ingestion API's validation. "
        "Each line is a player object as POST /ingest/v1/players takes it."
    )
    label = "players"

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--no-pep",
            action="store_true",
            help="Store only; queue nothing for PEP (the players go by pep_migrate_players).",
        )

    def handler(self, options: dict[str, Any]) -> BatchHandler:
        cause = f"loader:{options['path']}"
        return partial(ingest_players, send=not options["no_pep"], cause=cause)
