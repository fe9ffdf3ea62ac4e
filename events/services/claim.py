"""Claim due outbox rows for one worker, safely with many workers at once, under a lease.

The claim reads lanes (one row per lane key, a player's messages to one target, with pending
rows), never the backlog: due lanes by index, locked with SKIP LOCKED on PostgreSQL (on SQLite
the IMMEDIATE transaction holds the write lock), then each lane's first rows by the (lane,
status, occurred_at, id) index. So it costs the same with a thousand pending rows or a million.
Rows without a lane key are read by the (lane, status, next_attempt_at) index. Circuits and
rate limits are per endpoint (OutboxMessage.endpoint: the message type, or the subscription).
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import F, QuerySet, prefetch_related_objects
from django.db.models.functions import Collate
from django.utils import timezone

from events import selectors
from events.lookups import AnyOf
from events.models import OutboxLane, OutboxMessage
from events.services import endpoints

logger = logging.getLogger("events")

Status = OutboxMessage.Status
# The fewest rows a claim reads for each lane, however many lanes share its `limit`: draining a
# backlog (an outage leaves hundreds of rows per player) then costs one lease and one hand-back
# per run of rows, not per row. Free for the guarantees: a leased lane is the player's anyway
# (one in flight, in order), and what a killed worker re-sends is bounded by the send threads'
# unrecorded window (delivery.unrecorded_bound), not by the claim.
LANE_RUN_MIN = 10
# A lane whose head's endpoint is blocked (open circuit, probe in flight, no rate-limit permit)
# is looked at again after this long, or when the circuit's pause ends if that is sooner.
BLOCKED_RECHECK = timedelta(seconds=1)


@dataclass
class Claim:
    """What one claim took: rows to send, and the lanes (player -> version) it holds."""

    token: str
    rows: list[OutboxMessage] = field(default_factory=list)
    lanes: dict[str, int] = field(default_factory=dict)


def claim_due(*, worker: str, limit: int, now: datetime) -> list[OutboxMessage]:
    """Lease up to `limit` due rows to `worker` and return them (see claim_lanes)."""
    return claim_lanes(worker=worker, limit=limit, now=now).rows


def claim_lanes(*, worker: str, limit: int, now: datetime, max_lanes: int | None = None) -> Claim:
    """Lease up to `limit` due rows: whole runs of a player's due rows, one lane per player.

    `max_lanes` caps how many players one claim takes (the worker's free send threads): a
    lane leased but queued behind busy threads is a player no other worker may serve, and,
    if this worker is killed, one that waits out the whole lease.

    A lane's rows are its player's first pending rows in order, up to the first that is not
    due; several lanes share the `limit` (a lone busy player gets all of it, so it is sent back
    to back). Endpoints with an open circuit are skipped (only lanes whose head needs them
    wait); a half-open one gets one probe row; a rate-limited one as many rows as it has
    permits. Rows and lanes stay leased until OUTBOX_LEASE_SECONDS pass: if the worker dies,
    another claims them then.
    """
    gate = endpoints.gate(now)
    claim = Claim(token=_token(worker))
    lease = now + timedelta(seconds=settings.OUTBOX_LEASE_SECONDS)
    with transaction.atomic():
        lanes = _due_lanes(now, limit if max_lanes is None else max(min(limit, max_lanes), 1))
        runs = _runs(lanes, now, limit)
        picked = _pick(runs, gate, now)
        _lease_lanes(claim, lanes, picked, runs, now, lease, gate)
        _lease_rows(claim, [row for run in picked.values() for row in run], now, lease)
    room = limit - len(claim.rows)
    if max_lanes is not None:  # each row without a player is a lane of its own
        room = min(room, max_lanes - len(claim.lanes))
    if room > 0:
        claim.rows += _claim_unkeyed(claim.token, now, room, gate, lease)
    return claim


def _due_lanes(now: datetime, limit: int) -> list[OutboxLane]:
    lanes = OutboxLane.objects.filter(next_attempt_at__lte=now).order_by("next_attempt_at")
    if connection.vendor == "postgresql":
        # Lanes another worker is claiming (or an enqueue is touching) are skipped, not waited for.
        lanes = lanes.select_for_update(skip_locked=True)
    return list(lanes[:limit])


def _runs(lanes: list[OutboxLane], now: datetime, limit: int) -> dict[str, list[OutboxMessage]]:
    """Each lane's first pending rows in order, by index: `limit` shared among the lanes, and
    at least LANE_RUN_MIN each (so up to LANE_RUN_MIN rows a lane when many lanes share it)."""
    if not lanes:
        return {}
    per_lane = max(min(LANE_RUN_MIN, limit), limit // len(lanes))
    found: dict[str, list[OutboxMessage]] = {lane.player_id: [] for lane in lanes}
    players = [lane.player_id for lane in lanes]
    step = 1000 if connection.vendor == "postgresql" else 50  # SQLite: compound-select limit
    for start in range(0, len(players), step):
        for row in selectors.lane_rows(players[start : start + step], per_lane):
            found[row.lane].append(row)  # type: ignore[index]
    for rows in found.values():
        rows.sort(key=lambda row: (row.occurred_at, row.pk))
    return found


def _sendable_prefix(rows: list[OutboxMessage], now: datetime) -> list[OutboxMessage]:
    """The lane's rows that may go now: in order, up to the first not due or in flight."""
    out = []
    for row in rows:
        if row.next_attempt_at > now or (row.lease_expires_at and row.lease_expires_at > now):
            break
        out.append(row)
    return out


def _pick(
    runs: dict[str, list[OutboxMessage]], gate: endpoints.Gate, now: datetime
) -> dict[str, list[OutboxMessage]]:
    """Cut each lane's run at the first row its endpoint may not take now."""
    probes = dict.fromkeys(gate.probes, settings.OUTBOX_CIRCUIT_PROBES)
    sendable = {player: _sendable_prefix(rows, now) for player, rows in runs.items()}
    wanted = Counter(
        row.endpoint()
        for rows in sendable.values()
        for row in rows
        if row.endpoint() in gate.limits
    )
    permits = {
        kind: endpoints.reserve(kind, count, now, gate.limits)
        for kind, count in sorted(wanted.items())
    }
    picked: dict[str, list[OutboxMessage]] = {}
    for player, rows in sendable.items():
        run = []
        for row in rows:
            kind = row.endpoint()
            if kind in gate.blocked or (kind in gate.probes and kind not in probes):
                break
            if kind in permits:
                if permits[kind] == 0:
                    break
                permits[kind] -= 1
            run.append(row)
            if kind in gate.probes:
                # A probe row: nothing after it in this lane; the last one closes the gate.
                probes[kind] -= 1
                if not probes[kind]:
                    del probes[kind]
                break
        picked[player] = run
    for kind, left in permits.items():
        endpoints.refund(kind, left, gate.limits)
    for kind in sorted(probes):  # a probe won but no row went out as it
        if probes[kind] == settings.OUTBOX_CIRCUIT_PROBES:
            endpoints.probe_unused(kind, now)
    return picked


def _lease_lanes(
    claim: Claim,
    lanes: list[OutboxLane],
    picked: dict[str, list[OutboxMessage]],
    runs: dict[str, list[OutboxMessage]],
    now: datetime,
    lease: datetime,
    gate: endpoints.Gate,
) -> None:
    """Hold lanes with rows to send; park, or delete, those without (inside the claim's lock)."""
    holding = [lane.player_id for lane in lanes if picked.get(lane.player_id)]
    if holding:
        OutboxLane.objects.filter(AnyOf(F("player_id"), holding)).update(
            next_attempt_at=lease, lease_expires_at=lease, claimed_by=claim.token
        )
    claim.lanes = {lane.player_id: lane.version for lane in lanes if picked.get(lane.player_id)}
    for lane in lanes:
        if not picked.get(lane.player_id):
            head = runs[lane.player_id][0] if runs.get(lane.player_id) else None
            _park(lane, head, now, gate)


def _park(
    lane: OutboxLane, head: OutboxMessage | None, now: datetime, gate: endpoints.Gate
) -> None:
    """A due lane with nothing to send now: look again when its head is due, or drop it."""
    if head is None:
        # Only if no row came in since it was read (an enqueue bumps the version).
        OutboxLane.objects.filter(player_id=lane.player_id, version=lane.version).delete()
        return
    when = head.next_attempt_at
    if head.lease_expires_at and head.lease_expires_at > when:
        when = head.lease_expires_at  # in flight at a worker from before the lanes
    if when <= now:  # due, but its endpoint is blocked or out of permits
        when = now + BLOCKED_RECHECK
        retry_at = gate.retry_at.get(head.endpoint())
        if retry_at is not None and now < retry_at < when:
            when = retry_at
    OutboxLane.objects.filter(player_id=lane.player_id).update(next_attempt_at=when)


def _lease_rows(claim: Claim, rows: list[OutboxMessage], now: datetime, lease: datetime) -> None:
    if not rows:
        return
    ids = [row.pk for row in rows]
    # Compare-and-set: only rows still pending and unleased are taken.
    taken = (
        OutboxMessage.objects.filter(AnyOf(F("id"), ids), status=Status.PENDING)
        .filter(selectors.lease_free(now))
        .update(claimed_by=claim.token, lease_expires_at=lease)
    )
    if taken == len(ids):
        # Every row was taken as read (the usual case: its lane is locked by this claim), so
        # the rows in hand are the claimed ones; reading them again cost a third of a claim.
        for row in rows:
            row.claimed_by, row.lease_expires_at = claim.token, lease
        claimed = sorted(rows, key=lambda row: (row.occurred_at, row.pk))
    else:  # another claimant (a worker from before the lanes) took some: keep only ours
        claimed = list(
            OutboxMessage.objects.filter(id__in=ids, claimed_by=claim.token).order_by(
                "occurred_at", "id"
            )
        )
    # The target comes along: send threads read it without touching the database.
    prefetch_related_objects(claimed, "subscription")
    claim.rows = claimed


def _claim_unkeyed(
    token: str, now: datetime, limit: int, gate: endpoints.Gate, lease: datetime
) -> list[OutboxMessage]:
    """Rows without a lane: independent of each other, due order, by index."""
    blocked = set(gate.blocked) | set(gate.probes) | set(gate.limits)
    candidates = (
        OutboxMessage.objects.filter(
            lane__isnull=True, status=Status.PENDING, next_attempt_at__lte=now
        )
        .filter(selectors.lease_free(now))
        .exclude(message_type__in=sorted(blocked))
        .order_by("next_attempt_at", "id")
    )
    with transaction.atomic():
        if connection.vendor == "postgresql":
            candidates = candidates.select_for_update(skip_locked=True)
        ids = list(candidates.values_list("id", flat=True)[:limit])
        if not ids:
            return []
        OutboxMessage.objects.filter(id__in=ids, status=Status.PENDING).filter(
            selectors.lease_free(now)
        ).update(claimed_by=token, lease_expires_at=lease)
    claimed = OutboxMessage.objects.filter(id__in=ids, claimed_by=token)
    return list(claimed.select_related("subscription").order_by("id"))


def release(rows: Iterable[OutboxMessage]) -> None:
    """Give back claimed rows that were not sent (no attempt is counted)."""
    rows = list(rows)
    if not rows:
        return
    OutboxMessage.objects.filter(
        AnyOf(F("id"), [row.pk for row in rows]),
        claimed_by__in={row.claimed_by for row in rows},
        status=OutboxMessage.Status.PENDING,
    ).update(lease_expires_at=None, claimed_by="")


def release_lanes(
    token: str, ready: Mapping[str, int | None], parked: dict[str, tuple[int, datetime]]
) -> None:
    """Hand back a claim's lanes once their rows' outcomes are written (same transaction).

    `ready` lanes (player -> the version claimed, if known) are due again at once, since more
    rows may wait, or dropped when nothing of theirs is pending any more; `parked` ones (head
    waiting for its retry) are due at that time. Either way an enqueue that came in meanwhile
    (version changed) wins: the lane is due now.
    """
    free = {"lease_expires_at": None, "claimed_by": ""}
    mine = OutboxLane.objects.filter(claimed_by=token)
    keys = [*parked, *ready]
    versions = {player: v for player, v in ready.items() if v is not None}
    # First, so that it takes every lane's lock, in order (see _lock_in_key_order).
    if not _drop_emptied(token, versions, keys):
        _lock_in_key_order(mine, keys)
    stale = []
    for player, (version, when) in sorted(parked.items()):
        if not mine.filter(player_id=player, version=version).update(next_attempt_at=when, **free):
            stale.append(player)
    now_ready = sorted([*ready, *stale])
    if now_ready:
        mine.filter(AnyOf(F("player_id"), now_ready)).update(next_attempt_at=timezone.now(), **free)


def _lock_in_key_order(mine: QuerySet[OutboxLane], keys: list[str]) -> None:
    """Lock the lanes `keys` of `mine` in the order `lanes.touch` locks them: by code point.

    An UPDATE or DELETE of several lanes (a hand-back, freeing a dead worker's) locks them in
    whatever order its plan visits them, so an enqueue touching two of them in sorted order
    could deadlock with it, and the enqueue (a business transaction) may be the one
    PostgreSQL cancels. COLLATE "C" sorts as Python's `sorted` does. SQLite has one writer at
    a time: nothing to order. A hand-back usually has this done by its DELETE of emptied lanes
    (`_drop_emptied`): a statement of its own cost two workers 7-11 % of their rate (each
    statement waits for the send threads' interpreter lock).
    """
    if len(keys) < 2 or not connection.features.has_select_for_update:
        return
    ordered = mine.filter(AnyOf(F("player_id"), sorted(keys)))
    ordered = ordered.order_by(Collate(F("player_id"), "C")).select_for_update()
    list(ordered.values_list("pk", flat=True))


def _drop_emptied(token: str, versions: dict[str, int], lock: list[str]) -> bool:
    """Delete the lanes whose rows are all done, in one statement, unless an enqueue bumped them.

    On PostgreSQL the same statement first locks the `lock` lanes (the whole hand-back) in
    key order, in a `FOR UPDATE` subquery: every lane it deletes is one of them, so no lane is
    locked out of that order. Returns whether it ran (nothing to delete: it did not).

    Left for the next claim to find empty, each cost a DELETE of its own inside the claim's
    lock: a third of a zero-latency worker's time (bench/delivery.py, py-spy). `NOT EXISTS`
    stops at a lane's first pending row (a DISTINCT over them read 1,000 rows per lane at a
    1,000,000-row backlog). The version check is what makes it safe on PostgreSQL: an enqueue
    that bumps the lane while this waits on its lock makes the re-checked row fail `version`,
    whereas the subquery keeps the statement's snapshot.
    """
    if not versions:
        return False
    players = sorted(versions)
    params: list[str | int | list[str]] = [token]
    for player in players:
        params += [player, versions[player]]
    params.append(Status.PENDING.value)
    ordered = connection.features.has_select_for_update
    if ordered:
        params += [token, sorted(set(lock))]
    with connection.cursor() as cursor:
        cursor.execute(_drop_emptied_sql(connection.alias, len(players), ordered), params)
    return True


@functools.lru_cache(maxsize=128)
def _drop_emptied_sql(alias: str, count: int, ordered: bool) -> str:
    """The statement for `count` lanes, built once per count from the models' own names.

    Raw because the ORM spent more on compiling an OR of a hundred (lane, version) pairs
    than the database on running it (py-spy: 6 % of a worker's CPU).
    """
    quote = connections[alias].ops.quote_name
    lane, row = OutboxLane._meta, OutboxMessage._meta
    lanes, rows = quote(lane.db_table), quote(row.db_table)

    def col(meta: Any, name: str) -> str:
        return quote(meta.get_field(name).column)

    pair = f"({col(lane, 'player_id')} = %s AND {col(lane, 'version')} = %s)"
    pairs = " OR ".join([pair] * count)
    pending = (
        f"SELECT 1 FROM {rows} WHERE {rows}.{col(row, 'lane')} = {lanes}.{col(lane, 'player_id')}"  # noqa: S608
        f" AND {rows}.{col(row, 'status')} = %s"
    )
    key, holder = col(lane, "player_id"), col(lane, "claimed_by")
    # Only names from the models are interpolated; every value is a bound parameter.
    sql = f"DELETE FROM {lanes} WHERE {holder} = %s AND ({pairs}) AND NOT EXISTS ({pending})"  # noqa: S608
    if ordered:
        sql += (
            f" AND {key} IN (SELECT {key} FROM {lanes} WHERE {holder} = %s AND {key} = ANY(%s)"  # noqa: S608
            f' ORDER BY {key} COLLATE "C" FOR UPDATE)'
        )
    return sql


# --- leases of a dead worker on this host ---------------------------------------------------


def _pid_namespace() -> str:
    """This process's PID namespace (its inode), "" where /proc does not tell."""
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return ""


def _token(worker: str) -> str:
    """A claim's token: the worker's name, a nonce, and the PID namespace it runs in.

    The namespace lets a worker on the same host tell a dead claimant from a live one in
    another container sharing the hostname (`network_mode: host`), whose PIDs it cannot see.
    """
    namespace = _pid_namespace()
    nonce = uuid.uuid4().hex[:12]
    return f"{worker}:{nonce}:ns{namespace}" if namespace else f"{worker}:{nonce}"


def _dead_claimant(token: str, host: str, namespace: str) -> bool:
    """Whether a token was issued by a process of this host and PID namespace that is gone.

    Only tokens of the form host:pid:nonce:ns<namespace> (a `worker_name()` worker) qualify;
    anything else, another host, another namespace or a live PID, is left to its lease.
    """
    parts = token.rsplit(":", 3)
    if len(parts) != 4 or parts[0] != host or parts[3] != f"ns{namespace}":
        return False
    if not parts[1].isdigit() or int(parts[1]) == os.getpid():
        return False
    try:
        os.kill(int(parts[1]), 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except OSError:  # exists, owned by someone else
        return False
    return False


def release_dead(now: datetime) -> int:
    """Free the lanes and rows leased by a worker of this host that was killed; return lanes.

    Without this a SIGKILLed (or OOM-killed) worker's players wait out the whole lease
    (OUTBOX_LEASE_SECONDS) although nothing is sending for them: the worker is gone, so its
    unwritten sends can only be repeated, exactly as after the lease (the same at-least-once
    bound), just sooner. Only a process this host can see to be gone qualifies; workers on
    other hosts or in other PID namespaces keep their leases until they run out.
    """
    namespace = _pid_namespace()
    if not namespace:
        return 0
    host = socket.gethostname()
    held = OutboxLane.objects.filter(
        lease_expires_at__gt=now, claimed_by__startswith=f"{host}:"
    ).values_list("player_id", "claimed_by")
    dead = [(player, token) for player, token in held if _dead_claimant(token, host, namespace)]
    if not dead:
        return 0
    tokens = sorted({token for _, token in dead})
    players = sorted({player for player, _ in dead})
    held_lanes = OutboxLane.objects.filter(claimed_by__in=tokens)
    with transaction.atomic():
        OutboxMessage.objects.filter(
            lane__in=players, claimed_by__in=tokens, status=Status.PENDING
        ).update(lease_expires_at=None, claimed_by="")
        _lock_in_key_order(held_lanes, players)
        freed = held_lanes.filter(player_id__in=players).update(
            next_attempt_at=now, lease_expires_at=None, claimed_by=""
        )
    logger.warning("outbox leases of a dead worker released", extra={
        "lanes": freed, "claims": len(tokens)})  # fmt: skip
    return freed
