"""Send players to PEP through the bulk migration endpoint (the initial load), resumable."""

from __future__ import annotations

import sys
from argparse import ArgumentParser
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from players import migration, selectors
from players.loading import ProgressBar


class Command(BaseCommand):
    help = (
        "Send all players, or a filtered set, to PEP's bulk migration endpoint in gzip chunks of "
        "at most 20,000 players and 15 MB, then queue each accepted player's consents, "
        "verification state and tags in the outbox. Run it again after an interruption: it "
        "resumes after the last chunk PEP accepted and never sends a chunk twice."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--brand", dest="brand_id", help="Only this brand id.")
        parser.add_argument("--country", help="Only this country (ISO 3166-1 alpha-2).")
        parser.add_argument("--status", dest="account_status", help="Only this account status.")
        parser.add_argument(
            "--registered-since",
            help="Only players registered since this ISO 8601 time, with its zone "
            "(2024-01-01T00:00:00Z).",
        )
        parser.add_argument(
            "--player-ids-file", help="Only the player ids in this file (one a line)."
        )
        parser.add_argument("--max-players", type=int, default=migration.MAX_PLAYERS)
        parser.add_argument("--max-bytes", type=int, default=migration.MAX_BODY_BYTES)
        parser.add_argument(
            "--resend-unconfirmed",
            action="store_true",
            help="Also re-send chunks whose outcome is unknown (check PEP's CRM first).",
        )
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        filters = self._filters(options)
        if not 1 <= options["max_players"] <= migration.MAX_PLAYERS:
            raise CommandError(f"--max-players must be 1 to {migration.MAX_PLAYERS}")
        run = migration.migration_run_for(filters)
        total = selectors.players_for_migration(run.filters).count()
        bar = ProgressBar(total, label="players", stream=sys.stderr)
        bar.enabled = bar.enabled and not options["no_progress"]
        try:
            report = migration.migration_send(
                run,
                max_players=options["max_players"],
                max_bytes=options["max_bytes"],
                resend_unconfirmed=options["resend_unconfirmed"],
                progress=bar,
            )
        except migration.MigrationStopped as exc:
            bar.close()
            raise CommandError(
                f"{exc}. Fix the cause and run the command again to resume."
            ) from None
        bar.close()
        self._report(report)

    def _filters(self, options: dict[str, Any]) -> dict[str, Any]:
        filters = {
            name: options.get(name)
            for name in ("brand_id", "country", "account_status", "registered_since")
        }
        if filters["registered_since"]:
            _check_moment(filters["registered_since"])
        if options.get("player_ids_file"):
            with open(options["player_ids_file"], encoding="utf-8") as handle:
                filters["player_ids"] = sorted({line.strip() for line in handle if line.strip()})
        return filters

    def _report(self, report: migration.MigrationReport) -> None:
        run = report.run
        self.stdout.write(
            f"run {run.pk}: sent {report.chunks_sent} chunks, {report.players_sent:,} players; "
            f"{report.players_with_errors:,} players have PEP validation errors "
            f"(players.MigrationError)."
        )
        self.stdout.write(
            f"Queued {report.follow_ups_queued:,} consent, verification and tag messages for "
            "the players PEP accepted (the outbox delivers them)."
        )
        for sequence, parts in report.split.items():
            listed = ", ".join(str(n) for n in parts)
            self.stdout.write(
                f"Chunk {sequence} no longer fit one request: split, the rest as chunks {listed}."
            )
        if report.unconfirmed:
            listed = ", ".join(str(n) for n in report.unconfirmed)
            self.stdout.write(
                f"Chunks {listed} have an unknown outcome and were not re-sent; check PEP, then "
                "run again with --resend-unconfirmed if they did not arrive."
            )
        else:
            self.stdout.write(f"run {run.pk} finished.")


def _check_moment(text: str) -> None:
    """Refuse a --registered-since the selector could not read, or would read in a guessed zone.

    The filter is stored as given (a resumed run matches on it), so it is checked, not rewritten.
    """
    example = "e.g. 2024-01-01T00:00:00Z or 2024-01-01T00:00:00+01:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(
            f"--registered-since {text!r} is not an ISO 8601 date and time ({example})."
        ) from None
    if moment.tzinfo is None:
        raise CommandError(
            f"--registered-since {text!r} has no time zone, so it is ambiguous ({example})."
        )
