"""Keep a lane (events.models.OutboxLane) for every player with pending outbox rows.

Called in the same transaction as the change that makes rows pending (enqueue, replay, send
now), so a committed pending row of a player always has its lane. Raw SQL: the ORM cannot say
INSERT ... ON CONFLICT DO UPDATE with an expression.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime

from django.db import connections, transaction
from django.utils import timezone

from events.models import OutboxLane, OutboxMessage


def touch(player_ids: Iterable[str | None], *, due: datetime, wake: bool = False) -> None:
    """Create the players' lanes (due at `due`), or bump the version of those that exist.

    `wake` also makes an existing lane due at `due` unless a worker holds it (replay, send
    now: rows that were not pending, or not due, are due now). Players go in sorted order, so
    two transactions touching the same lanes lock them in the same order.
    """
    players = sorted({player for player in player_ids if player is not None})
    if not players:
        return
    connection = transaction.get_connection()
    moment = connection.ops.adapt_datetimefield_value(due)
    for start in range(0, len(players), 200):
        chunk = players[start : start + 200]
        params: list[object] = []
        for player in chunk:
            params += [player, moment]
        with connection.cursor() as cursor:
            cursor.execute(_touch_sql(connection.alias, len(chunk), wake), params)


@functools.lru_cache(maxsize=16)
def _touch_sql(alias: str, count: int, wake: bool) -> str:
    quote = connections[alias].ops.quote_name
    table = quote(OutboxLane._meta.db_table)
    values = ", ".join(["(%s, %s, NULL, '', 0)"] * count)
    update = f"version = {table}.version + 1"
    if wake:
        # A lane in flight stays as it is: its worker looks again when it finishes.
        update += (
            f", next_attempt_at = CASE WHEN {table}.lease_expires_at IS NOT NULL"
            f" AND {table}.lease_expires_at > excluded.next_attempt_at"
            f" THEN {table}.next_attempt_at"
            f" WHEN excluded.next_attempt_at < {table}.next_attempt_at"
            f" THEN excluded.next_attempt_at ELSE {table}.next_attempt_at END"
        )
    # Only names from the model are interpolated; every value is a bound parameter.
    return (
        f"INSERT INTO {table} (player_id, next_attempt_at, lease_expires_at, claimed_by, version) "  # noqa: S608
        f"VALUES {values} ON CONFLICT (player_id) DO UPDATE SET {update}"
    )


def repair(*, since: datetime | None = None) -> int:
    """Create missing lanes for pending rows (created since `since`, or all); return how many.

    A safety net, not the normal path: rows enqueued by code older than the lanes (a rolling
    deploy) or by anything that wrote rows without `touch`. The sweep runs it over recent rows
    (an index range on created_at); `manage.py outbox_lanes --repair` over all.
    """
    rows = OutboxMessage.objects.filter(
        status=OutboxMessage.Status.PENDING, player_id__isnull=False
    )
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    have = OutboxLane.objects.values_list("player_id", flat=True)
    missing = rows.exclude(player_id__in=have).values_list("player_id", flat=True).distinct()
    players = list(missing)
    if players:
        with transaction.atomic():
            touch(players, due=timezone.now())
    return len(players)
