"""Read-only queries over the outbox, shared by the workers, the admin and the health endpoint."""

from __future__ import annotations

import functools
import json
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Exists, Min, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from events.models import EndpointState, OutboxLane, OutboxMessage

Status = OutboxMessage.Status


def lease_free(now: datetime) -> Q:
    return Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now)


def heads(now: datetime) -> QuerySet[OutboxMessage]:
    """Pending rows that may be sent next: no earlier pending row of the same lane.

    A row of a player whose earlier message is still pending (in backoff, in flight, or
    about to be replayed) waits; so does any row of a player with a row in flight, so a late
    message with an earlier occurred_at cannot overtake one being sent. Rows without a
    lane key are independent of each other.
    """
    blocking = OutboxMessage.objects.filter(status=Status.PENDING, lane=OuterRef("lane")).filter(
        Q(occurred_at__lt=OuterRef("occurred_at"))
        | Q(occurred_at=OuterRef("occurred_at"), id__lt=OuterRef("id"))
        | Q(lease_expires_at__gt=now)
    )
    return (
        OutboxMessage.objects.filter(status=Status.PENDING)
        .filter(lease_free(now))
        .filter(~Exists(blocking))
    )


def due_heads(now: datetime) -> QuerySet[OutboxMessage]:
    """Heads whose next attempt time has come, oldest due first (the claim query)."""
    return heads(now).filter(next_attempt_at__lte=now).order_by("next_attempt_at", "id")


def seconds_until_due(now: datetime, *, paused: dict[str, datetime] | None = None) -> float | None:
    """How long until some row can be claimed (0 if one can now); None if nothing is pending.

    Read off the lanes (one per player with pending rows; a held lane is due when its lease
    ends) and the rows without a player, each the first entry of an index. `paused` maps
    endpoints whose circuit is open to when they may be tried again.
    """
    paused = paused or {}
    moments = [OutboxLane.objects.aggregate(at=Min("next_attempt_at"))["at"]]
    unkeyed = OutboxMessage.objects.filter(lane__isnull=True, status=Status.PENDING)
    moments.append(
        unkeyed.filter(lease_free(now))
        .exclude(message_type__in=list(paused))
        .aggregate(at=Min("next_attempt_at"))["at"]
    )
    moments.append(
        unkeyed.filter(lease_expires_at__gt=now).aggregate(at=Min("lease_expires_at"))["at"]
    )
    found = [moment for moment in moments if moment is not None]
    if not found:
        return None
    if paused:
        found.append(min(paused.values()))
    return max((min(found) - now).total_seconds(), 0.0)


def backlog_waiting(now: datetime | None = None) -> bool:
    """More players due than one worker keeps in flight: worth more than one pass at once.

    Reads at most OUTBOX_MAX_IN_FLIGHT + 1 lanes by index, whatever the depth.
    """
    limit = settings.OUTBOX_MAX_IN_FLIGHT
    due = OutboxLane.objects.filter(next_attempt_at__lte=now or timezone.now()).order_by()
    return due[: limit + 1].count() > limit


def failed_rows(
    *,
    message_ids: list[int] | None = None,
    message_type: str | None = None,
    player_id: str | None = None,
    error_class: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[OutboxMessage]:
    """Dead letters matching a replay filter; the time window applies to when they failed."""
    rows = OutboxMessage.objects.filter(status=Status.FAILED)
    filters = {
        "id__in": message_ids,
        "message_type": message_type,
        "player_id": player_id,
        "last_error_class": error_class,
        "failed_at__gte": since,
        "failed_at__lt": until,
    }
    return rows.filter(**{key: value for key, value in filters.items() if value is not None})


# Counts up to this are exact; above it PostgreSQL's planner estimate is given (and flagged),
# so the health endpoint costs the same with a million pending rows as with a thousand.
EXACT_COUNT_UP_TO = 10_000


def delivery_health(now: datetime | None = None) -> dict[str, Any]:
    """Figures for the admin and the JSON health endpoint (all plain JSON types).

    `oldest_due_age_seconds` is how long the longest-waiting sendable lane (a player's head,
    not in flight) or row without a player has been due: near zero while workers keep up, past
    the sweep interval only if delivery is stuck (or an endpoint's circuit is open: see
    `circuits`). It reads the first entries of two indexes. Counts are exact up to
    EXACT_COUNT_UP_TO; above that, on PostgreSQL, they are the planner's estimate and their
    names are listed in `estimated`.
    """
    now = now or timezone.now()
    hour_ago = now - timedelta(hours=1)
    rows = OutboxMessage.objects
    counts = {
        "pending": rows.filter(status=Status.PENDING),
        "failed": rows.filter(status=Status.FAILED),
        "delivered_last_hour": rows.filter(status=Status.DELIVERED, delivered_at__gte=hour_ago),
        "failed_last_hour": rows.filter(status=Status.FAILED, failed_at__gte=hour_ago),
    }
    figures: dict[str, Any] = {}
    estimated = []
    for name, query in counts.items():
        figures[name], guessed = count_fast(query)
        if guessed:
            estimated.append(name)
    oldest_due = _oldest_due(now)
    figures["oldest_due_age_seconds"] = (
        round((now - oldest_due).total_seconds(), 3) if oldest_due else 0.0
    )
    figures["in_flight_players"] = OutboxLane.objects.filter(lease_expires_at__gt=now).count()
    figures["estimated"] = estimated
    figures["circuits"] = _circuits()
    return figures


def count_fast(query: QuerySet[Any]) -> tuple[int, bool]:
    """(count, is_estimate): exact up to EXACT_COUNT_UP_TO, else PostgreSQL's estimate."""
    exact = query.order_by()[: EXACT_COUNT_UP_TO + 1].count()
    if exact <= EXACT_COUNT_UP_TO or connection.vendor != "postgresql":
        return (exact if exact <= EXACT_COUNT_UP_TO else query.count()), False
    sql, params = query.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return max(int(plan[0]["Plan"]["Plan Rows"]), exact), True


# Due lanes whose heads the health figure reads: the ones due longest (by index).
OLDEST_DUE_LANES = 50


def _oldest_due(now: datetime) -> datetime | None:
    """The earliest due time of a sendable head: of the lanes due longest, and rows without one.

    Reads the OLDEST_DUE_LANES lanes due longest and not held by a worker, then their heads
    (one index read each, in one round trip): a row behind its player's backing-off head is
    waiting as designed and does not count. An approximation when more lanes are due than
    that (a lane made ready again is due from then, its head maybe from earlier).
    """
    lanes = list(
        OutboxLane.objects.filter(next_attempt_at__lte=now)
        .filter(lease_free(now))
        .order_by("next_attempt_at")
        .values_list("player_id", flat=True)[:OLDEST_DUE_LANES]
    )
    heads = [row.next_attempt_at for row in lane_rows(lanes, 1) if row.next_attempt_at <= now]
    unkeyed = (
        OutboxMessage.objects.filter(
            lane__isnull=True, status=Status.PENDING, next_attempt_at__lte=now
        )
        .filter(lease_free(now))
        .aggregate(at=Min("next_attempt_at"))["at"]
    )
    moments = [*heads, *([unkeyed] if unkeyed else [])]
    return min(moments) if moments else None


def lane_rows(players: list[str], per_lane: int) -> list[OutboxMessage]:
    """The first `per_lane` pending rows of each lane key, in one UNION ALL round trip.

    Each part is an index read on (lane, status, occurred_at, id) with a LIMIT. Raw SQL,
    built once per shape from the ORM's own SQL: the ORM refuses LIMIT inside a compound
    statement on SQLite, and compiling a hundred querysets per claim cost more than the reads.
    """
    if not players:
        return []
    if connection.vendor == "postgresql":
        # One plan for all lanes (a 50-part UNION costs more to plan than to run).
        table = OutboxMessage._meta.db_table
        lateral = (
            f"SELECT o.* FROM unnest(%s::text[]) AS p(player) CROSS JOIN LATERAL ("  # noqa: S608
            f"SELECT * FROM {table} WHERE lane = p.player AND status = %s "
            f"ORDER BY occurred_at, id LIMIT %s) AS o"
        )
        return list(OutboxMessage.objects.raw(lateral, [players, Status.PENDING.value, per_lane]))
    sql = _lane_rows_sql(connection.alias, len(players), per_lane)
    params: list[object] = []
    for player in players:
        params += [player, Status.PENDING.value]
    return list(OutboxMessage.objects.raw(sql, params))


@functools.lru_cache(maxsize=64)
def _lane_rows_sql(alias: str, count: int, per_lane: int) -> str:
    one = OutboxMessage.objects.using(alias).filter(lane="?", status=Status.PENDING)
    sql, params = one.order_by("occurred_at", "id")[:per_lane].query.sql_with_params()
    if list(params) != ["?", Status.PENDING]:  # the template binds exactly these two
        raise AssertionError(f"unexpected lane query parameters {params!r}")
    # ORM-built SQL with placeholders only; the values are bound parameters.
    parts = [f"SELECT * FROM ({sql}) AS part_{n}" for n in range(count)]  # noqa: S608
    return " UNION ALL ".join(parts)


def _circuits() -> dict[str, dict[str, Any]]:
    return {
        state.message_type: {
            "state": state.circuit,
            "retry_at": state.retry_at.isoformat() if state.retry_at else None,
            "window_requests": state.window_requests,
            "window_failures": state.window_failures,
        }
        for state in EndpointState.objects.order_by("message_type")
    }


def delivery_counts() -> dict[str, int]:
    """Pending and failed rows: two index-only counts (the status indexes), not a table scan."""
    rows = OutboxMessage.objects
    return {
        "pending": rows.filter(status=OutboxMessage.Status.PENDING).count(),
        "failed": rows.filter(status=OutboxMessage.Status.FAILED).count(),
    }


def player_heads(rows: list[OutboxMessage]) -> dict[int, OutboxMessage]:
    """For each pending row with a player, the player's first pending row (what it waits for).

    Two queries for a whole page, whatever its size: the head ids through a subquery on the
    (lane, status, occurred_at, id) index, then those heads. A head maps to itself.
    """
    pending = [row.pk for row in rows if row.status == OutboxMessage.Status.PENDING and row.lane]
    if not pending:
        return {}
    # Per lane (the player's messages to one target): a row to PEP never waits for one to an
    # operator subscription, nor the reverse (docs/delivery.md, "Targets").
    first = OutboxMessage.objects.filter(
        status=OutboxMessage.Status.PENDING, lane=OuterRef("lane")
    ).order_by("occurred_at", "id")
    head_of = dict(
        OutboxMessage.objects.filter(pk__in=pending)
        .annotate(head_id=Subquery(first.values("id")[:1]))
        .values_list("pk", "head_id")
    )
    heads = OutboxMessage.objects.in_bulk([head for head in head_of.values() if head])
    return {pk: heads[head] for pk, head in head_of.items() if head in heads}


def open_circuits() -> dict[str, datetime | None]:
    """Endpoints (message types) whose circuit toward PEP is open, and until when."""
    return dict(
        EndpointState.objects.filter(circuit=EndpointState.Circuit.OPEN).values_list(
            "message_type", "retry_at"
        )
    )
