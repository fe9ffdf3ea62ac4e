"""Run an outbox worker: claim and send due rows (alone, or beside django-q2 clusters)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from events.services import drain


class Command(BaseCommand):
    help = "Deliver due outbox rows: until none is due (default) or --forever."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--forever", action="store_true", help="keep polling until killed")
        parser.add_argument("--max-seconds", type=float, default=3600.0)
        parser.add_argument("--poll", type=float, default=1.0, help="seconds between idle polls")

    def handle(self, *args: Any, **options: Any) -> None:
        max_seconds = float("inf") if options["forever"] else options["max_seconds"]
        sent = drain(max_seconds=max_seconds, until_idle=not options["forever"],
                     poll=options["poll"])  # fmt: skip
        self.stdout.write(f"attempted {sent} deliveries")
