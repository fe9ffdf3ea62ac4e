"""Re-arm dead letters for delivery (events.services.replay_failed)."""

from __future__ import annotations

import getpass
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from events.services import replay_failed


def _moment(text: str) -> datetime:
    moment = parse_datetime(text)
    if moment is None:
        raise CommandError(f"not an ISO-8601 date-time: {text!r}")
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


class Command(BaseCommand):
    help = "Replay failed outbox messages: by id, or by type/player/error class/time window."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("ids", nargs="*", type=int, help="outbox message ids")
        parser.add_argument("--type", dest="message_type")
        parser.add_argument("--player", dest="player_id")
        parser.add_argument("--error-class")
        parser.add_argument("--since", type=_moment, help="failed at or after (ISO-8601)")
        parser.add_argument("--until", type=_moment, help="failed before (ISO-8601)")
        parser.add_argument("--all", action="store_true", help="replay every dead letter")
        parser.add_argument("--actor", default=None, help="who asks (default: OS user)")

    def handle(self, *args: Any, **options: Any) -> None:
        filters = {
            "message_ids": options["ids"] or None,
            "message_type": options["message_type"],
            "player_id": options["player_id"],
            "error_class": options["error_class"],
            "since": options["since"],
            "until": options["until"],
        }
        if not options["all"] and all(value is None for value in filters.values()):
            raise CommandError("give ids or a filter, or --all to replay every dead letter")
        actor = options["actor"] or f"cli:{getpass.getuser()}"
        count = replay_failed(actor=actor, **filters)
        self.stdout.write(f"re-armed {count} messages")
