"""Send a subscription the PEP events stored before it existed (docs/webhooks.md, "Backfill")."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from events.models import WebhookSubscription
from webhooks.forwarding import inbox_backfill

logger = logging.getLogger("webhooks")
MAX_DAYS = 3650  # ten years: beyond that a date overflows before it means anything


class Command(BaseCommand):
    help = "Forward the stored PEP events received since a moment to one subscription."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("subscription", help="the subscription's name or id")
        since = parser.add_mutually_exclusive_group(required=True)
        since.add_argument(
            "--since", help="ISO 8601 moment with a time zone, e.g. 2026-11-01T00:00Z"
        )
        since.add_argument("--days", type=int, help="the last N days")

    def handle(self, *args: Any, **options: Any) -> None:
        target = _subscription(options["subscription"])
        since = _since(options["since"], options["days"])
        read = written = 0
        for chunk_read, chunk_written in inbox_backfill(target, since=since):
            read, written = read + chunk_read, written + chunk_written
            self.stdout.write(f"{read} events read, {written} queued")
        logger.info("webhook_backfill subscription=%s since=%s read=%s queued=%s",
                    target.pk, since.isoformat(), read, written)  # fmt: skip
        self.stdout.write(f"{target.name}: {written} events queued of {read} since {since:%c %Z}")


def _subscription(name_or_id: str) -> WebhookSubscription:
    found = WebhookSubscription.objects.filter(name=name_or_id).first()
    if found is None and name_or_id.isdigit():
        found = WebhookSubscription.objects.filter(pk=int(name_or_id)).first()
    if found is None:
        raise CommandError(f"no subscription named {name_or_id!r}")
    if not found.enabled:
        raise CommandError(f"{found.name} is disabled: enable it first")
    return found


def _since(text: str | None, days: int | None) -> datetime:
    if days is not None:
        if not 1 <= days <= MAX_DAYS:
            raise CommandError(f"--days must be 1 or more, at most {MAX_DAYS}")
        return timezone.now() - timedelta(days=days)
    moment = parse_datetime((text or "").replace("Z", "+00:00"))
    if moment is None or moment.tzinfo is None:
        raise CommandError("--since must be an ISO 8601 moment with a time zone")
    return moment
