"""Keep a lane (events.models.OutboxLane) for every lane key with pending outbox rows.

A lane key is a player's messages to one target (`lane_key`): the player id for PEP, the player
id and the subscription for an operator webhook.

Called in the same transaction as the change that makes rows pending (enqueue, replay, send
now), so a committed pending row of a player always has its lane. Raw SQL: the ORM cannot say
INSERT ... ON CONFLICT DO UPDATE with an expression.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime

from django.db import connections, transaction
from django.db.models import F
from django.utils import timezone

from events.models import OutboxLane, OutboxMessage


def lane_key(player_id: str | None, subscription_id: int | None) -> str | None:
    """The ordering key of a row: rows with the same key go out one at a time, in order.

    PEP: the player (None: no order). An operator subscription: the player and the target, and
    rows without a player share one lane per subscription; so a subscription that is down holds
    up only its own lanes, never the player's messages to PEP or to another subscription.
    """
    if subscription_id is None:
        return player_id
    return f"{player_id or ''}>s{subscription_id}"


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
    pending = OutboxMessage.objects.filter(status=OutboxMessage.Status.PENDING)
    if since is not None:
        pending = pending.filter(created_at__gte=since)
    # Rows of PEP written without a lane key (code older than the targets): the player's.
    pending.filter(lane__isnull=True, player_id__isnull=False, subscription__isnull=True).update(
        lane=F("player_id")
    )
    rows = pending.filter(lane__isnull=False)
    have = OutboxLane.objects.values_list("player_id", flat=True)
    missing = rows.exclude(lane__in=have).values_list("lane", flat=True).distinct()
    players = [key for key in missing if key is not None]
    if players:
        with transaction.atomic():
            touch(players, due=timezone.now())
    return len(players)
