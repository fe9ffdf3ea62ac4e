"""Re-send reconciliation items to PEP for one player or a filtered set, on staff's word."""

from __future__ import annotations

from argparse import ArgumentParser
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from reconciliation.models import RepairState
from reconciliation.services import resync_players


def _moment(value: str | None) -> datetime | None:
    if value is None:
        return None
    moment = parse_datetime(value) or parse_datetime(f"{value}T00:00:00")
    if moment is None:
        raise CommandError(f"{value!r} is not an ISO date or datetime")
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


class Command(BaseCommand):
    help = "Re-open and re-send reconciliation items (default: every item not yet repaired)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--actor", required=True, help="who asks for it (kept in the trail)")
        parser.add_argument("--player", action="append", dest="players", default=[])
        parser.add_argument(
            "--status",
            action="append",
            dest="statuses",
            default=[],
            choices=RepairState.Status.values,
        )
        parser.add_argument("--since", help="items received from this date/datetime on")
        parser.add_argument("--until", help="items received before this date/datetime")

    def handle(self, *args: Any, **options: Any) -> None:
        report = resync_players(
            player_ids=options["players"] or None,
            statuses=options["statuses"] or None,
            created_after=_moment(options["since"]),
            created_before=_moment(options["until"]),
            actor=options["actor"],
        )
        repair = report.repair
        self.stdout.write(
            f"re-sync #{report.request.pk}: {report.players} players, {repair.sent} sent, "
            f"{repair.waiting} waiting, {repair.unknown_player} unknown players, "
            f"{repair.failed} failed"
        )
