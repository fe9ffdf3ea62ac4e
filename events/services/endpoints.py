"""Protect PEP: a per-endpoint rate limit and circuit breaker, shared by every worker.

State lives in the EndpointState table, not in the cache: the default cache is per process, and
the database is the one thing every worker on every machine already shares. Each batch touches
a row per endpoint once or twice, which is small next to the rows it delivers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from events.models import EndpointState, WebhookSubscription
from pepbridge import metrics

Circuit = EndpointState.Circuit
# Seconds: a repeatedly failing probe never waits longer than this, so once PEP is back the
# circuit closes within MAX_PAUSE plus one probe (the drain goal: outage + backlog/rate + 30 s).
MAX_PAUSE = 15.0


Limits = dict[str, tuple[int, float]]  # endpoint -> (requests, per seconds)


@dataclass(frozen=True)
class Gate:
    """What a claim may take now: endpoints to skip, endpoints allowed one probe, and the
    rate-limited ones with their limits."""

    blocked: frozenset[str]
    probes: frozenset[str]
    # When each blocked endpoint's pause ends (a parked lane looks again then at the latest).
    retry_at: dict[str, datetime] = field(default_factory=dict)
    limits: Limits = field(default_factory=dict)


def rate_limits() -> Limits:
    """OUTBOX_RATE_LIMITS for PEP's message types, and each subscription's own limit."""
    limited = WebhookSubscription.objects.filter(rate_limit_count__isnull=False)
    own = {
        f"webhook:{pk}": (count, float(per))
        for pk, count, per in limited.values_list("pk", "rate_limit_count", "rate_limit_seconds")
        if count  # never None here (the filter); a 0 would be no limit, not a stop
    }
    return {**settings.OUTBOX_RATE_LIMITS, **own}


def _state(message_type: str) -> EndpointState:
    """The locked state row (created on first use); call inside transaction.atomic()."""
    locked = EndpointState.objects.select_for_update()
    state = locked.filter(message_type=message_type).first()
    if state is None:
        # INSERT ... ON CONFLICT DO NOTHING: two workers creating the row at once is expected,
        # not an error (get_or_create's caught IntegrityError filled PostgreSQL's log).
        EndpointState.objects.bulk_create(
            [EndpointState(message_type=message_type)], ignore_conflicts=True
        )
        state = locked.get(message_type=message_type)
    return state


# --- rate limit: a token bucket that never exceeds `count` requests in any `per` seconds ----


def _bucket(message_type: str, limits: Limits | None) -> tuple[float, float] | None:
    """(capacity, tokens per second) for a limited endpoint, None when unlimited.

    Capacity is a tenth of the limit (a small burst, fewer claims); the refill rate leaves
    room for it, so capacity + rate * per never exceeds the configured count.
    """
    limit = (settings.OUTBOX_RATE_LIMITS if limits is None else limits).get(message_type)
    if limit is None:
        return None
    count, per = limit
    capacity = max(1, count // 10)
    return float(capacity), max(count - capacity, 1) / per


def reserve(message_type: str, want: int, now: datetime, limits: Limits | None = None) -> int:
    """Take up to `want` permits for an endpoint; returns how many were granted.

    `limits`: the claim's (Gate.limits); OUTBOX_RATE_LIMITS alone when not given.
    """
    bucket = _bucket(message_type, limits)
    if bucket is None:
        return want
    capacity, rate = bucket
    with transaction.atomic():
        state = _state(message_type)
        tokens = capacity if state.tokens_at is None else state.tokens
        elapsed = 0.0 if state.tokens_at is None else (now - state.tokens_at).total_seconds()
        tokens = min(capacity, tokens + max(elapsed, 0.0) * rate)
        granted = min(want, math.floor(tokens))
        state.tokens, state.tokens_at = tokens - granted, now
        state.save(update_fields=["tokens", "tokens_at"])
    metrics.rate_limit_reserved(message_type, want, granted)
    return granted


def refund(message_type: str, count: int, limits: Limits | None = None) -> None:
    """Give back permits that found no row to send."""
    bucket = _bucket(message_type, limits)
    if bucket is None or count <= 0:
        return
    with transaction.atomic():
        state = _state(message_type)
        state.tokens = min(bucket[0], state.tokens + count)
        state.save(update_fields=["tokens"])


# --- circuit breaker ---------------------------------------------------------------------


def gate(now: datetime) -> Gate:
    """Endpoints a claim must skip (open circuit or probe in flight) and those due a probe.

    An open circuit whose pause is over moves to half open for the one worker that wins the
    compare-and-set; that worker may send one row as the probe.
    """
    blocked: set[str] = set()
    probes: set[str] = set()
    retry_at: dict[str, datetime] = {}
    for state in EndpointState.objects.exclude(circuit=Circuit.CLOSED):
        if state.retry_at is not None and state.retry_at > now:
            blocked.add(state.message_type)
            retry_at[state.message_type] = state.retry_at
        elif _start_probe(state, now):
            probes.add(state.message_type)
        else:
            blocked.add(state.message_type)
    return Gate(frozenset(blocked), frozenset(probes), retry_at, rate_limits())


def paused(now: datetime) -> dict[str, datetime]:
    """Endpoints whose circuit keeps them from sending now, with when that may change."""
    states = EndpointState.objects.exclude(circuit=Circuit.CLOSED).filter(retry_at__gt=now)
    return {state.message_type: state.retry_at for state in states if state.retry_at}


def _start_probe(state: EndpointState, now: datetime) -> bool:
    lease = now + timedelta(seconds=settings.OUTBOX_LEASE_SECONDS)
    won = (
        EndpointState.objects.filter(message_type=state.message_type, circuit=state.circuit)
        .filter(Q(retry_at__isnull=True) | Q(retry_at__lte=now))
        .update(circuit=Circuit.HALF_OPEN, retry_at=lease)
    )
    return won == 1


def probe_unused(message_type: str, now: datetime) -> None:
    """No row went out as the probe: let the next claim try again."""
    EndpointState.objects.filter(message_type=message_type, circuit=Circuit.HALF_OPEN).update(
        circuit=Circuit.OPEN, retry_at=now
    )


# What `record` changes: the rate-limit bucket's fields are the claim's, never written here.
CIRCUIT_FIELDS = (
    "circuit",
    "window_started_at",
    "window_requests",
    "window_failures",
    "opened_at",
    "retry_at",
    "consecutive_opens",
)


@dataclass(frozen=True)
class Sent:
    """One send as the circuit sees it: its row's lease end (dating the claim) and its outcome.

    `failed` means a transient failure; a permanent 4xx shows the endpoint is answering.
    """

    lease_expires_at: datetime | None
    failed: bool


def record(message_type: str, *, sends: list[Sent], now: datetime) -> None:
    """Count sends to an endpoint and move its circuit.

    Closed: every send counts toward the failure ratio. Open or half open: only the designated
    probe's result moves the circuit (success closes it, a transient failure re-opens it);
    sends of batches claimed before the circuit opened, or of an expired earlier probe, are
    ignored, so a stale batch can neither close the circuit unprobed nor double its pause.
    """
    if not sends:
        return
    # Part of the caller's transaction when there is one (the delivery writes its outcomes and
    # these counts in one commit), without a savepoint; its own transaction otherwise.
    with transaction.atomic(savepoint=False):
        state = _state(message_type)
        if state.circuit == Circuit.CLOSED:
            _count(state, len(sends), sum(send.failed for send in sends), now)
        elif not (probes := _probes(state, sends)):
            return
        elif all(probe.failed for probe in probes):
            _open(state, now)
        else:
            _close(state)
        state.save(update_fields=CIRCUIT_FIELDS)


def _probes(state: EndpointState, sends: list[Sent]) -> list[Sent]:
    """The half-open circuit's probes among `sends` (up to OUTBOX_CIRCUIT_PROBES rows).

    A probe is a row claimed in the same step that moved the circuit to half open, so its
    lease ends exactly at the state's `retry_at` (both are claim time + OUTBOX_LEASE_SECONDS).
    One answered probe closes the circuit; it re-opens only when every probe failed.
    """
    if state.circuit != Circuit.HALF_OPEN or state.retry_at is None:
        return []
    lease = timedelta(seconds=settings.OUTBOX_LEASE_SECONDS)
    found = []
    for send in sends:
        if send.lease_expires_at != state.retry_at:
            continue
        claimed_at = send.lease_expires_at - lease
        if state.opened_at is None or claimed_at >= state.opened_at:
            found.append(send)
    return found


def _count(state: EndpointState, requests: int, failures: int, now: datetime) -> None:
    """A sliding window: older counts fade out (exponentially, over OUTBOX_CIRCUIT_WINDOW).

    A fixed window restarting from zero opens on a lucky streak at its start (11 failures in
    the first 20 sends at a true rate of 0.32); a decayed count weighs every recent send, and
    needs OUTBOX_CIRCUIT_MIN_REQUESTS of them (decayed) before it may open.
    """
    window = settings.OUTBOX_CIRCUIT_WINDOW
    if state.window_started_at is not None:
        elapsed = max((now - state.window_started_at).total_seconds(), 0.0)
        keep = math.exp(-elapsed / window)
        state.window_requests = round(state.window_requests * keep)
        state.window_failures = round(state.window_failures * keep)
    state.window_started_at = now
    state.window_requests += requests
    state.window_failures += failures
    enough = state.window_requests >= settings.OUTBOX_CIRCUIT_MIN_REQUESTS
    ratio = state.window_failures / max(state.window_requests, 1)
    if enough and ratio >= settings.OUTBOX_CIRCUIT_FAILURE_RATIO:
        _open(state, now)


def _open(state: EndpointState, now: datetime) -> None:
    pause = min(settings.OUTBOX_CIRCUIT_PAUSE * 2**state.consecutive_opens, MAX_PAUSE)
    state.circuit, state.opened_at = Circuit.OPEN, now
    state.retry_at = now + timedelta(seconds=pause)
    state.consecutive_opens += 1
    state.window_started_at, state.window_requests, state.window_failures = None, 0, 0


def _close(state: EndpointState) -> None:
    state.circuit, state.retry_at, state.opened_at = Circuit.CLOSED, None, None
    state.consecutive_opens = 0
    state.window_started_at, state.window_requests, state.window_failures = None, 0, 0
