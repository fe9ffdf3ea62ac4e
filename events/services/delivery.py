"""Send claimed outbox rows to PEP and record every attempt; the worker loop around it."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import (
    DatabaseError,
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
    transaction,
)
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from events import forwarding, selectors
from events.kick import clear_kick
from events.lookups import AnyOf
from events.models import DeliveryAttempt, OutboxMessage
from events.services import endpoints, schedule, sending
from events.services.claim import Claim, claim_lanes, release, release_dead, release_lanes
from pepbridge import backoff, metrics
from pepbridge.pep.client import PepClient, get_pep_client
from pepbridge.pep.errors import PepError, PepPermanentError, PepTransientError
from pepbridge.pep.webhook_sender import get_webhook_sender

logger = logging.getLogger("events")

Status = OutboxMessage.Status
Outcome = DeliveryAttempt.Outcome
EXCERPT_CHARS = 4096
# Seconds: a pass that would wait longer than this ends (the sweep or a kick starts the next).
# Above endpoints.MAX_PAUSE, so a pass does not end while work is due behind an open circuit.
IDLE_EXIT_AFTER = 20.0
BUSY_POLL = 0.25  # seconds between claims while due rows exist but none could be claimed
DB_BACKOFF_CAP = 30.0
# Outcomes are written after this many sends or seconds, whichever comes first: a worker
# killed mid-batch re-sends at most what unrecorded_bound() says (at-least-once), and a 100-row
# batch is two transactions, not a hundred. Measured (bench/delivery.py, SQLite, one worker):
# chunks of 10 gave 0.57 of the plain-HTTP ceiling, chunks of 50 with 100-row claims 0.70.
FLUSH_ROWS = 50


def unrecorded_bound(in_flight: int) -> int:
    """The most sends of one worker whose outcome is not written: what a SIGKILL re-sends.

    One chunk being written, the next filling meanwhile, and the requests in flight. The send
    threads wait for room beyond it (sending.Sender), so it holds however slow the database is.
    """
    return 2 * FLUSH_ROWS + in_flight


# A send starts only while the row's lease outlives it by this much (room to write its outcome);
# a lease shorter than one request plus this can send nothing (system check pepbridge.E001).
LEASE_SLACK_SECONDS = 5.0
FLUSH_SECONDS = 1.0
# Seconds before a quick retry: up to 5 ms, then up to 10 ms (pepbridge.backoff, full jitter),
# about an RTT, since the sleeping thread holds one of the worker's in-flight slots meanwhile.
QUICK_RETRY_BASE, QUICK_RETRY_CAP = 0.005, 0.02
# Tries of one chunk's outcome write that lost a deadlock / serialization conflict.
RECORD_ATTEMPTS = 5
LOCK_CONFLICT_CODES = frozenset({"40P01", "40001"})
# Seconds between looks for leases held by a killed worker of this host (claim.release_dead).
DEAD_CHECK_SECONDS = 1.0
_dead_checked_at = float("-inf")
# The clock of drain deadlines and chunk timing (tests replace it to simulate slow sends).
_clock = time.monotonic


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Result:
    """The outcome of one attempt, written back in bulk with the rest of its chunk."""

    row: OutboxMessage
    started_at: datetime
    duration_ms: int
    outcome: str
    status_code: int | None = None
    error_class: str = ""
    excerpt: str = ""
    next_attempt_at: datetime | None = None
    transient: bool = False
    finished_at: float = 0.0  # _clock() when the answer came (cuts chunks by time)
    quick: bool = False  # a transient failure worth one more try at once (5xx, connection)
    # Quick retries that failed before this attempt (each is a DeliveryAttempt of its own).
    earlier: list[Result] = field(default_factory=list)

    @property
    def tries(self) -> int:
        return 1 + len(self.earlier)


def deliver_batch(
    rows: list[OutboxMessage],
    *,
    worker: str,
    client: PepClient,
    deadline: float | None = None,
) -> list[Result]:
    """Send claimed rows, up to OUTBOX_MAX_IN_FLIGHT at once, and record the attempts in chunks.

    Rows of one player go one after the other, in their order, on one thread (a lane); lanes
    go in parallel. A row is sent only while its lease outlives the longest possible request,
    so no other worker can have claimed it meanwhile, and only while that request would end by
    `deadline` (a `time.monotonic()` moment), so the task running this is not killed mid-send;
    the rest go back unsent. Outcomes are written every FLUSH_ROWS results or FLUSH_SECONDS: a
    worker killed mid-batch re-sends at most the unwritten chunk plus the requests in flight.
    """
    run = _Run(worker, client, deadline, keep_results=True)
    try:
        run.submit(rows)
        while run.sender.running:
            run.collect()
        return run.finish()
    finally:
        run.sender.stop()  # after a failure, no send thread may wait for room forever


@dataclass
class HandBack:
    """Finished lanes to hand back, and the rows they did not send, in one transaction.

    `lanes`: by claim token, (ready: player -> version claimed, parked: player -> (version,
    when its head is due again)). `unsent`: their rows to release (no attempt counted); they
    stay leased until then, like their lane, so no other worker can take them meanwhile.
    """

    lanes: dict[str, tuple[dict[str, int | None], dict[str, tuple[int, datetime]]]] = field(
        default_factory=dict
    )
    unsent: list[OutboxMessage] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.lanes or self.unsent)


class _Run:
    """One worker's sends in flight and the chunk of outcomes not yet written."""

    def __init__(
        self, worker: str, client: PepClient, deadline: float | None, *, keep_results: bool = False
    ) -> None:
        request_seconds = sum(client.timeout)
        self.worker, self.client = worker, client
        margin = timedelta(seconds=request_seconds + LEASE_SLACK_SECONDS)

        def late() -> bool:
            return deadline is not None and _clock() + request_seconds > deadline

        self.sender = sending.Sender(
            size=settings.OUTBOX_MAX_IN_FLIGHT,
            send=lambda row: _send(row, client, late, margin),
            late=late,
            margin=margin,
            max_unrecorded=unrecorded_bound(settings.OUTBOX_MAX_IN_FLIGHT),
        )
        # Only deliver_batch (one batch) returns its results; a drain pass keeps a count, or a
        # 50 s pass would hold every row it sent, bodies included (+130 MB over 100,000 sends).
        self.keep_results = keep_results
        self.results: list[Result] = []
        self.recorded = 0
        self.chunk: list[Result] = []
        self.chunk_started = _clock()
        self.chunk_opened = time.monotonic()  # when the chunk's first result came in
        self.versions: dict[tuple[str, str], int] = {}  # (token, player) -> lane version
        self.lanes_done: list[sending.LaneDone] = []  # handed back with the next chunk
        self.lanes_finished = 0  # LaneDone markers taken: each may make a claim worth trying

    @property
    def attempts(self) -> int:
        return self.recorded + len(self.chunk)

    def submit_claim(self, claim: Claim) -> None:
        for player, version in claim.lanes.items():
            self.versions[(claim.token, player)] = version
        self.submit(claim.rows)

    def submit(self, rows: list[OutboxMessage]) -> None:
        if not rows:
            return
        # Warm the shared token here, on the worker's thread: the send threads then read it
        # from memory and never open a database connection of their own. Rows to operator
        # subscriptions need none, and are not held up when PEP's token cannot be had.
        to_pep = [row for row in rows if row.subscription_id is None]
        if len(to_pep) == len(rows):
            self.client.tokens.get()
        elif to_pep:
            try:
                self.client.tokens.get()
            except PepError as exc:
                rows = [row for row in rows if row.subscription_id is not None]
                self._hold_back(to_pep, exc)
        self.sender.submit(rows)

    def _hold_back(self, rows: list[OutboxMessage], exc: PepError) -> None:
        """Rows to PEP that cannot go without a token: unsent, no attempt counted. Their lanes
        stay leased, so they are claimed again when the lease runs out (a pause, not a spin)."""
        logger.warning("outbox: no PEP token; rows to PEP wait for their lease to run out",
                       extra={"rows": len(rows), "error_class": exc.error_class})  # fmt: skip
        release(rows)

    def collect(self) -> None:
        """Take what the send threads finished (waiting at most until the chunk is due).

        A chunk's age is read off its results' finishing times, not off the moment this
        thread gets to them, so chunks are cut the same however the threads are scheduled.
        When nothing comes in, a chunk older than FLUSH_SECONDS (by the wall clock, since its
        first result arrived) is written anyway.
        """
        waited = time.monotonic() - self.chunk_opened if self.chunk else 0.0
        got = False
        for item in self.sender.items(timeout=FLUSH_SECONDS - waited):
            got = True
            if isinstance(item, Result):
                if not self.chunk:
                    self.chunk_opened = time.monotonic()
                self.chunk.append(item)
                age = item.finished_at - self.chunk_started
                if len(self.chunk) >= FLUSH_ROWS or age >= FLUSH_SECONDS:
                    self.flush(at=item.finished_at)
            elif isinstance(item, sending.LaneDone):
                self._give_back(item)
        if not got and self.chunk and time.monotonic() - self.chunk_opened >= FLUSH_SECONDS:
            self.flush()
        elif not self.chunk and self.lanes_done:
            # Every result of these lanes is written already (a lane's results come before its
            # LaneDone): hand them back now, not with the next chunk. Waiting left a finished
            # lane leased for up to FLUSH_SECONDS, and a lone hot player's next claim empty.
            done, self.lanes_done = self.lanes_done, []
            hand_back = self._hand_back_plan(done)
            _with_lock_retry(lambda: _hand_back_lanes(hand_back))

    def _give_back(self, done: sending.LaneDone) -> None:
        self.lanes_finished += 1
        if done.lease_too_short and not self.recorded and not self.chunk:
            logger.warning("outbox lease too short to send; see system check pepbridge.E001",
                           extra={"message_id": done.unsent[0].pk})  # fmt: skip
        if done.player_id is None:
            release(done.unsent)  # a row without a lane: nothing else holds it
        else:
            self.lanes_done.append(done)  # its unsent rows go back with the lane

    def flush(self, at: float | None = None) -> None:
        done, self.lanes_done = self.lanes_done, []
        hand_back = self._hand_back_plan(done)
        # The lanes go back in the outcomes' transaction, after them: a lane handed back first
        # would let another worker find its delivered rows still pending and leased, and park
        # the lane for a whole lease. One transaction, not two: every statement and commit lets
        # the send threads take the interpreter lock, and this thread then waits for it (a
        # hand-back of three statements took 30 ms of wall time for 1.5 ms of CPU).
        if self.chunk:
            _record(self.chunk, self.worker, then=lambda: _hand_back_lanes(hand_back))
        elif hand_back:
            _with_lock_retry(lambda: _hand_back_lanes(hand_back))
        self.sender.recorded(len(self.chunk))
        self.recorded += len(self.chunk)
        if self.keep_results:
            self.results += self.chunk
        self.chunk, self.chunk_started = [], _clock() if at is None else at

    def _hand_back_plan(self, done: list[sending.LaneDone]) -> HandBack:
        """What to hand back for these finished lanes. Versions are taken off `versions` here,
        once, not in a write that may be retried.

        A lane whose head now waits for a retry is parked until then, with its later rows
        (unsent) released: they may not overtake the head. Made ready instead, it cost one
        claim per failing lane that found the head not due and only parked it then.
        """
        plan = HandBack()
        for lane in done:
            ready, parked = plan.lanes.setdefault(lane.token, ({}, {}))
            version = self.versions.pop((lane.token, lane.player_id or ""), None)
            if lane.retry_at is not None and version is not None:
                parked[lane.player_id or ""] = (version, lane.retry_at)
            else:
                ready[lane.player_id or ""] = version
            plan.unsent += lane.unsent
        return plan

    def finish(self) -> list[Result]:
        self.flush()
        return self.results


def _hand_back_lanes(hand_back: HandBack) -> None:
    # Inside the chunk's transaction when there is one: no savepoint (two more statements).
    with transaction.atomic(savepoint=False):
        release(hand_back.unsent)
        for token, (ready, parked) in sorted(hand_back.lanes.items()):
            release_lanes(token, ready, parked)


def _send(
    row: OutboxMessage, client: PepClient, late: Callable[[], bool], margin: timedelta
) -> Result:
    """Send a row; a 5xx or connection failure is tried again at once, OUTBOX_QUICK_RETRIES times.

    A partly failing PEP (a share of requests answered 500) then costs a few extra requests
    instead of parking the player's lane for the retry schedule's first step: delivery slows
    in proportion to the failure rate. 429s, timeouts and Retry-After are never retried here
    (PEP asked us to slow down), nor is a try that could outlive the lease or the deadline.
    Every try is recorded as an attempt and counted by the circuit breaker.
    """
    earlier: list[Result] = []
    while True:
        result = _attempt_send(row, client)
        retry = result.quick and len(earlier) < settings.OUTBOX_QUICK_RETRIES
        if not retry or late() or sending.lease_too_short(row, margin):
            break
        earlier.append(result)
        time.sleep(backoff.delay(len(earlier), base=QUICK_RETRY_BASE, cap=QUICK_RETRY_CAP,
                                 jitter=1.0))  # fmt: skip
    result.earlier = earlier
    result.finished_at = _clock()
    return result


def _attempt_send(row: OutboxMessage, client: PepClient) -> Result:
    started_at = timezone.now()
    clock = time.monotonic()

    def took() -> int:
        return round((time.monotonic() - clock) * 1000)

    try:
        status = _deliver(row, client)
    except PepPermanentError as exc:
        return Result(row, started_at, took(), Outcome.FAILED, exc.status, exc.error_class,
                      _excerpt(exc))  # fmt: skip
    except PepTransientError as exc:
        return _transient(row, started_at, took(), exc)
    except Exception as exc:  # a bug must not kill the worker; the row retries on schedule
        logger.exception("outbox send crashed", extra={"message_id": row.pk})
        error = PepTransientError(f"{type(exc).__name__}: {exc}", error_class="internal")
        return _transient(row, started_at, took(), error)
    return Result(row, started_at, took(), Outcome.DELIVERED, status)


def _deliver(row: OutboxMessage, client: PepClient) -> int:
    """One request to the row's target (PEP, or an operator subscription); its status code.

    A subscription's URL and secret are read as they are now (the claim loaded them), so an
    edited URL or a rotated secret applies to retries; a disabled subscription's rows are
    dead-lettered, to be replayed once it is enabled again.
    """
    if row.subscription_id is None:
        return client.request(row.method, row.path, body=row.body_bytes(), retry=False).status
    target = row.subscription
    if target is None or not target.enabled:
        raise PepPermanentError("the subscription is disabled", error_class="subscription_off")
    return get_webhook_sender().send(
        url=target.url,
        secret=target.signing_secrets(timezone.now()),
        message_id=row.webhook_id(),
        body=row.body_bytes() or b"",
    )


def _transient(row: OutboxMessage, started: datetime, took: int, exc: PepTransientError) -> Result:
    now = timezone.now()
    when = schedule.next_attempt_at(
        now=now, first_failed_at=row.first_failed_at or now, attempts=row.retry_step + 1, error=exc
    )
    outcome = Outcome.RETRY if when is not None else Outcome.FAILED
    quick = (
        exc.retry_after is None
        and exc.status not in schedule.THROTTLE_STATUSES
        and (exc.error_class not in schedule.THROTTLE_CLASSES)
    )
    return Result(row, started, took, outcome, exc.status, exc.error_class, _excerpt(exc),
                  next_attempt_at=when, transient=True, quick=quick)  # fmt: skip


def _excerpt(exc: Exception) -> str:
    text = getattr(exc, "body_excerpt", "") or ""
    return (f"{exc}\n{text}" if text else str(exc))[:EXCERPT_CHARS]


def _record(results: list[Result], worker: str, then: Callable[[], None] | None = None) -> None:
    """Write a chunk's outcomes, retrying the transaction when it loses a lock conflict.

    A deadlock or serialization failure rolls the whole chunk back; giving up then would leave
    its delivered rows leased, to be sent again when the lease runs out. So the write is tried
    up to RECORD_ATTEMPTS times, each time logged as what it is (not as an outage). `then`
    runs in the same transaction, after the outcomes (the lanes they free); with no results
    nothing runs, `then` included (the caller hands lanes back on their own then).
    """
    if results:
        _with_lock_retry(lambda: _record_once(results, worker, then))


def _with_lock_retry(write: Callable[[], None]) -> None:
    """Run a write transaction, again (bounded) when it loses a deadlock or serialization race."""
    for attempt in range(1, RECORD_ATTEMPTS + 1):
        try:
            write()
            return
        except OperationalError as exc:
            if not is_lock_conflict(exc) or attempt == RECORD_ATTEMPTS:
                raise
            logger.warning("outbox deadlock writing outcomes; retrying", extra={
                "attempt": attempt, "error": lock_conflict_code(exc)})  # fmt: skip
            time.sleep(0.01 * attempt)


def lock_conflict_code(exc: BaseException) -> str:
    """PostgreSQL's SQLSTATE behind a Django database error ("" when there is none)."""
    cause = exc.__cause__
    return str(getattr(cause, "sqlstate", "") or getattr(cause, "pgcode", "") or "")


def is_lock_conflict(exc: BaseException) -> bool:
    """A lost lock race that retrying the transaction cures.

    PostgreSQL's deadlock (40P01) or serialization failure (40001), or SQLite's "database is
    locked" (another process held the write lock past busy_timeout). Giving up on a chunk
    would leave its delivered rows leased, to be sent again after the lease.
    """
    if lock_conflict_code(exc) in LOCK_CONFLICT_CODES:
        return True
    return "database is locked" in str(exc)


def _record_once(
    results: list[Result], worker: str, then: Callable[[], None] | None = None
) -> None:
    """Write a chunk's outcomes in one transaction: rows, attempts, what `then` writes (the
    lanes they free), endpoint counters.

    Statement order inside one transaction changes nothing anyone sees, but it sets how long
    locks are held: the endpoint's row (`EndpointState`, one per message type, which every
    worker's chunk writes) is taken last, so it is never held while `then` waits for a lane an
    enqueue's transaction holds.
    """
    now = timezone.now()
    with transaction.atomic():
        _mark_delivered([r for r in results if r.outcome == Outcome.DELIVERED], now)
        dead = []
        for result in results:
            if result.outcome == Outcome.DELIVERED or not _mark_failed_attempt(result, now):
                continue
            if result.outcome == Outcome.FAILED:
                dead.append(result)
        _forward_dead_letters(dead, now)
        tries = [try_ for r in results for try_ in [*r.earlier, r]]
        DeliveryAttempt.objects.bulk_create([_attempt(r, worker) for r in tries])
        if then is not None:
            then()
        _count_for_circuits(results, now)  # same commit: one transaction per chunk
    metrics.attempts_recorded((r.row.message_type, r.outcome) for r in results)


def _mark_delivered(results: list[Result], now: datetime) -> None:
    by_status: dict[tuple[int | None, int], list[Result]] = defaultdict(list)
    for result in results:
        by_status[(result.status_code, result.tries)].append(result)
    for (status_code, tries), group in by_status.items():
        # Only while the lease is still ours: otherwise another worker owns the row now.
        OutboxMessage.objects.filter(
            AnyOf(F("id"), [r.row.pk for r in group]),
            claimed_by__in={r.row.claimed_by for r in group},
        ).update(
            status=Status.DELIVERED,
            delivered_at=now,
            attempts=F("attempts") + tries,
            lease_expires_at=None,
            last_status_code=status_code,
            last_error_class="",
            last_error="",
            trigger=OutboxMessage.Trigger.SCHEDULED,
        )


def _mark_failed_attempt(result: Result, now: datetime) -> bool:
    """Write a failed attempt's outcome; False when the row is no longer ours (lease lost)."""
    changes: dict[str, object] = {
        "attempts": F("attempts") + result.tries,
        "lease_expires_at": None,
        "claimed_by": "",
        "last_status_code": result.status_code,
        "last_error_class": result.error_class,
        "last_error": result.excerpt,
        "trigger": OutboxMessage.Trigger.SCHEDULED,
    }
    if result.outcome == Outcome.RETRY:
        changes["next_attempt_at"] = result.next_attempt_at
        changes["retry_step"] = F("retry_step") + 1
        changes["first_failed_at"] = Coalesce(F("first_failed_at"), now)
    else:
        changes["status"] = Status.FAILED
        changes["failed_at"] = now
    mine = OutboxMessage.objects.filter(pk=result.row.pk, claimed_by=result.row.claimed_by)
    return mine.update(**changes) == 1


def _forward_dead_letters(dead: list[Result], now: datetime) -> None:
    """Tell the operator's subscriptions about messages to PEP that were dead-lettered.

    In the outcome's transaction. Never about a forwarded row itself: a subscription that is
    down would otherwise feed itself a dead letter per dead letter.
    """
    events = [
        forwarding.Event(
            type="bridge.message_dead_lettered",
            key=f"dead-letter:{r.row.pk}:{r.row.attempts + r.tries}",
            data={
                "messageId": r.row.pk,
                "messageType": r.row.message_type,
                "playerId": r.row.player_id,
                "statusCode": r.status_code,
                "errorClass": r.error_class,
                "failedAt": now,
            },
            occurred_at=now,
            player_id=r.row.player_id,
        )
        for r in dead
        if r.row.subscription_id is None
    ]
    forwarding.forward(events)


def _attempt(result: Result, worker: str) -> DeliveryAttempt:
    return DeliveryAttempt(
        message_id=result.row.pk,
        started_at=result.started_at,
        duration_ms=result.duration_ms,
        status_code=result.status_code,
        outcome=result.outcome,
        error_class=result.error_class,
        error_excerpt=result.excerpt,
        trigger=result.row.trigger,
        worker=worker,
    )


def _count_for_circuits(results: list[Result], now: datetime) -> None:
    sends: dict[str, list[endpoints.Sent]] = defaultdict(list)
    for result in results:
        for try_ in [*result.earlier, result]:
            sent = endpoints.Sent(result.row.lease_expires_at, try_.transient)
            sends[result.row.endpoint()].append(sent)
    # One lock order for every worker (sorted endpoint names): two chunks meeting the same
    # endpoints in opposite orders would otherwise deadlock on their EndpointState rows.
    for message_type, group in sorted(sends.items()):
        endpoints.record(message_type, sends=group, now=now)


# --- the worker loop -------------------------------------------------------------------------


def drain(
    *,
    max_seconds: float,
    until_idle: bool = True,
    worker: str | None = None,
    client: PepClient | None = None,
    poll: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Claim and send due rows until none is due soon (or `max_seconds` pass); return sends.

    `until_idle=False` keeps polling every `poll` seconds for the whole time (the
    `outbox_drain --forever` worker).
    No send starts after `max_seconds`, so a pass ends within `max_seconds` plus one request's
    timeout (connect + read) plus writing its last chunk: Q_TIMEOUT must leave room for that
    (system check pepbridge.W004), or django-q2 kills the task and its unwritten chunk is sent
    again.
    A database outage is logged and waited out with backoff; nothing is lost meanwhile, since
    rows stay pending and leases run out.
    """
    worker = worker or worker_name()
    deadline = _clock() + max_seconds
    sent, failures = 0, 0
    clear_kick()
    while _clock() < deadline:
        count, wait, failures = _guarded_pass(worker, client, failures, deadline)
        sent += count
        idle = wait is None or wait > IDLE_EXIT_AFTER
        if until_idle and idle and not failures:
            break
        if not until_idle:
            wait = poll if wait is None else min(wait, poll)
        if wait:
            sleep(min(wait, max(deadline - _clock(), 0)))
    return sent


def _guarded_pass(
    worker: str, client: PepClient | None, failures: int, deadline: float
) -> tuple[int, float | None, int]:
    """A pass that survives database errors: (sent, wait, consecutive DB failures).

    Connection faults (server restarting, network blip) are an outage: logged as a warning,
    the connection dropped, waited out. Any other DatabaseError (IntegrityError,
    ProgrammingError...) is a bug that retrying will not cure: logged with its traceback so it
    is seen, and still backed off, so the worker neither dies nor spins.
    """
    wait = backoff.delay(failures + 1, base=1.0, cap=DB_BACKOFF_CAP)  # 1 s, 2 s, ... 30 s
    try:
        count, next_wait = _pass(worker, client or get_pep_client(), deadline)
    except OperationalError as exc:
        if is_lock_conflict(exc):
            # Another worker's transaction won a lock: nothing is down, try again shortly.
            logger.warning("outbox deadlock; retrying", extra={"error": lock_conflict_code(exc)})
            return 0, BUSY_POLL, failures
        logger.warning("outbox database error; backing off", extra={"wait": wait,
                       "error": type(exc).__name__})  # fmt: skip
        _drop_connection()
        return 0, wait, failures + 1
    except InterfaceError as exc:
        logger.warning("outbox database error; backing off", extra={"wait": wait,
                       "error": type(exc).__name__})  # fmt: skip
        _drop_connection()
        return 0, wait, failures + 1
    except DatabaseError as exc:
        logger.exception("outbox bug: database error that is not an outage; backing off",
                         extra={"wait": wait, "error": type(exc).__name__})  # fmt: skip
        return 0, wait, failures + 1
    return count, next_wait, 0


def _release_dead_now() -> None:
    """Look for a killed worker's leases (claim.release_dead) at most every DEAD_CHECK_SECONDS."""
    global _dead_checked_at
    if _clock() - _dead_checked_at >= DEAD_CHECK_SECONDS:
        _dead_checked_at = _clock()
        release_dead(timezone.now())


def _pass(worker: str, client: PepClient, deadline: float) -> tuple[int, float | None]:
    """Claim and send until nothing more can be claimed; returns (attempts, seconds to wait).

    Claims overlap the sends: a new claim is made whenever no more than half of
    OUTBOX_MAX_IN_FLIGHT lanes are still busy, so the pipe to PEP never runs dry while rows
    are due. A claim takes at most the players that keep every send thread busy until the next
    refill (twice OUTBOX_MAX_IN_FLIGHT, less the lanes running): a lane leased but queued
    behind busy threads is a player no other worker may serve meanwhile, and one that waits
    out the whole lease if this worker is killed on another host. After a claim that found
    nothing, the next waits until some lane finished (which may have made a player's next row
    sendable). A send may start until the drain's deadline, and so may end one request later.
    """
    run = _Run(worker, client, deadline + sum(client.timeout))
    try:
        return _claim_and_send(run, worker, deadline)
    finally:
        run.sender.stop()  # after a failure, no send thread may wait for room forever


def _claim_and_send(run: _Run, worker: str, deadline: float) -> tuple[int, float | None]:
    refill = max(settings.OUTBOX_MAX_IN_FLIGHT // 2, 1)
    claim_open, claimed, attempts_at_claim = True, 0, 0
    while True:
        if claim_open and run.sender.running <= refill and _clock() < deadline:
            _release_dead_now()
            limit = settings.OUTBOX_BATCH_SIZE
            # Enough players to keep every thread busy until the next refill, no more.
            room = 2 * settings.OUTBOX_MAX_IN_FLIGHT - run.sender.running
            claim = claim_lanes(worker=worker, limit=limit, now=timezone.now(), max_lanes=room)
            claimed, attempts_at_claim = claimed + len(claim.rows), run.attempts
            run.submit_claim(claim)
            claim_open = bool(claim.rows)
        if not run.sender.running:
            break
        lanes_before = run.lanes_finished
        run.collect()
        # A lane that finished after sending may have more rows, or has freed a thread for
        # another player's: worth a claim. A finished attempt alone is not (its lane's next
        # rows are already here): claiming after each one cost a lone busy player half its
        # rate (270 -> 580/s, docs/benchmarks.md). Lanes given back unsent (lease, deadline)
        # with nothing sent since the last claim are not either, or a worker would spin on them.
        sent_since_claim = run.attempts > attempts_at_claim
        claim_open = claim_open or (run.lanes_finished > lanes_before and sent_since_claim)
    run.finish()
    sent = run.recorded
    if claimed:
        # Claimed but all released unsent: poll, do not spin on the same rows.
        return sent, (0.0 if sent else BUSY_POLL)
    now = timezone.now()
    wait = selectors.seconds_until_due(now, paused=endpoints.paused(now))
    # Due rows that could not be claimed (rate limit, a rival worker's claim): poll.
    return 0, (BUSY_POLL if wait == 0 else wait)


def _drop_connection() -> None:
    """Close a broken connection so the next query opens a fresh one."""
    close_old_connections()
    with contextlib.suppress(DatabaseError):
        connection.close()
