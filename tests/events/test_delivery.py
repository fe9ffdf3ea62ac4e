"""Claiming and delivering outbox rows: order per player, retries, dead letters, PEP protection."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from events import selectors, services
from events.models import DeliveryAttempt, EndpointState, OutboxLane, OutboxMessage
from events.services import delivery, schedule
from pepbridge.pep.errors import PepTransientError
from tests.events.outbox_fixtures import BASE, make_due, message, put, sent_bodies

pytestmark = pytest.mark.django_db
URL = f"{BASE}/rx-api/test/game_round"
Status = OutboxMessage.Status


def drain(pep_client) -> int:
    return services.drain(max_seconds=5, worker="w1", client=pep_client, sleep=lambda s: None)


def test_it_delivers_the_stored_bytes_and_records_the_attempt(outbox_pep, outbox_client) -> None:
    outbox_pep.post(URL, status=202, body=b"ok")
    (row,) = put(message("p-1", 1))
    assert drain(outbox_client) == 1
    assert sent_bodies(outbox_pep) == [row.body_bytes()]
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_status_code) == (Status.DELIVERED, 1, 202)
    assert row.delivered_at is not None and row.lease_expires_at is None
    attempt = DeliveryAttempt.objects.get(message=row)
    assert (attempt.status_code, attempt.outcome) == (202, "delivered")
    assert attempt.trigger == "scheduled"
    assert attempt.worker == "w1"


def test_it_sends_a_players_messages_in_the_order_they_happened(outbox_pep, outbox_client) -> None:
    outbox_pep.post(URL, status=200)
    now = timezone.now()
    # Enqueued out of order: the round that happened later first.
    put(message("p-1", 2, occurred_at=now - timedelta(seconds=1)))
    put(message("p-1", 1, occurred_at=now - timedelta(seconds=2)))
    drain(outbox_client)
    assert [b.decode() for b in sent_bodies(outbox_pep)] == [
        '{"amount":1.5,"playerId":"p-1","seq":1}',
        '{"amount":1.5,"playerId":"p-1","seq":2}',
    ]


def test_a_failing_player_holds_back_only_their_own_later_messages(
    outbox_pep, outbox_client, settings
) -> None:
    settings.OUTBOX_QUICK_RETRIES = 0  # one try, so the attempts can be counted

    def answer(request):
        return (503, {}, "down") if b'"p-bad"' in request.body else (200, {}, "ok")

    outbox_pep.add_callback("POST", URL, callback=answer)
    put(message("p-bad", 1), message("p-bad", 2), message("p-ok", 1), message("p-ok", 2))
    drain(outbox_client)
    rows = {(r.player_id, r.body_bytes().count(b'"seq":1')): r for r in OutboxMessage.objects.all()}
    assert rows[("p-ok", 1)].status == rows[("p-ok", 0)].status == Status.DELIVERED
    assert rows[("p-bad", 1)].status == Status.PENDING and rows[("p-bad", 1)].attempts == 1
    assert rows[("p-bad", 0)].attempts == 0  # never sent ahead of the failing first message


def test_a_transient_failure_is_retried_after_the_first_step_with_jitter(
    outbox_pep, outbox_client, settings
) -> None:
    settings.OUTBOX_QUICK_RETRIES = 0  # the schedule alone (quick retries: test_in_flight.py)
    outbox_pep.post(URL, status=503, body=b"busy")
    outbox_pep.post(URL, status=200)
    (row,) = put(message("p-1", 1))
    before = timezone.now()
    drain(outbox_client)
    row.refresh_from_db()
    delay = (row.next_attempt_at - before).total_seconds()
    assert 24 <= delay <= 36.5
    assert (row.status, row.last_error_class, row.retry_step) == (Status.PENDING, "http_503", 1)
    assert "busy" in row.last_error
    make_due(row)
    drain(outbox_client)
    row.refresh_from_db()
    assert row.status == Status.DELIVERED and row.attempts == 2
    assert list(row.deliveries.order_by("id").values_list("outcome", flat=True)) == [
        "retry",
        "delivered",
    ]


@pytest.mark.parametrize(
    ("error", "at_least"),
    [
        (PepTransientError("x", status=429), 60),
        (PepTransientError("x", error_class="timeout"), 60),
        (PepTransientError("x", status=503, retry_after=600), 600),
        (PepTransientError("x", status=429, retry_after=5), 60),
        (PepTransientError("x", status=408), 60),
        (PepTransientError("x", status=504), 60),
    ],
)
def test_throttling_timeouts_and_retry_after_stretch_the_delay(error, at_least) -> None:
    assert schedule.retry_delay(1, error) >= at_least


def test_the_default_schedule_reaches_72_hours_then_dead_letters(settings) -> None:
    error = PepTransientError("x", status=503)
    settings.OUTBOX_RETRY_JITTER = 0
    first = timezone.now()
    now, attempts = first, 0
    while (when := schedule.next_attempt_at(
        now=now, first_failed_at=first, attempts=attempts + 1, error=error
    )) is not None:  # fmt: skip
        now, attempts = when, attempts + 1
    assert [schedule.base_delay(n) for n in (1, 2, 8, 9, 20)] == [30, 120, 28800, 28800, 28800]
    assert timedelta(hours=64) < now - first <= timedelta(hours=72)
    assert attempts == 15


def test_a_row_whose_schedule_ran_out_goes_to_the_dead_letter(outbox_pep, outbox_client) -> None:
    outbox_pep.post(URL, status=500)
    (row,) = put(message("p-1", 1))
    OutboxMessage.objects.filter(pk=row.pk).update(
        first_failed_at=timezone.now() - timedelta(hours=71, minutes=59), retry_step=12
    )
    drain(outbox_client)
    row.refresh_from_db()
    assert (row.status, row.last_status_code) == (Status.FAILED, 500)
    assert row.failed_at is not None


def test_a_400_is_dead_lettered_at_once_with_peps_answer(outbox_pep, outbox_client) -> None:
    outbox_pep.post(URL, status=400, json={"code": 3, "message": "amount: must be positive"})
    (row,) = put(message("p-1", 1))
    drain(outbox_client)
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_status_code) == (Status.FAILED, 1, 400)
    assert row.last_error_class == "http_400"
    assert "amount: must be positive" in row.last_error
    assert DeliveryAttempt.objects.get(message=row).outcome == "failed"
    assert len(sent_bodies(outbox_pep)) == 1


def test_a_dead_letter_does_not_hold_back_the_players_later_messages(
    outbox_pep, outbox_client
) -> None:
    outbox_pep.post(URL, status=400)
    outbox_pep.post(URL, status=200)
    first, second = put(message("p-1", 1), message("p-1", 2))
    drain(outbox_client)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (Status.FAILED, Status.DELIVERED)


def test_a_connection_error_is_transient(outbox_pep, outbox_client) -> None:
    outbox_pep.post(URL, body=requests.ConnectionError("refused"))
    (row,) = put(message("p-1", 1))
    drain(outbox_client)
    row.refresh_from_db()
    assert (row.status, row.last_error_class, row.last_status_code) == (
        Status.PENDING,
        "connection",
        None,
    )


def test_two_claims_never_share_a_row() -> None:
    put(*[message(f"p-{n}", 1) for n in range(10)])
    now = timezone.now()
    first = services.claim_due(worker="a", limit=6, now=now)
    second = services.claim_due(worker="b", limit=6, now=now)
    assert len(first) == 6 and len(second) == 4
    assert not {r.pk for r in first} & {r.pk for r in second}
    assert services.claim_due(worker="c", limit=6, now=now) == []


def test_a_claim_takes_a_players_due_rows_in_order_as_one_lane() -> None:
    put(message("p-1", 1), message("p-1", 2), message(None, 1), message(None, 2))
    rows = services.claim_due(worker="a", limit=10, now=timezone.now())
    assert [(r.player_id, r.body_bytes().count(b'"seq":1')) for r in rows] == [
        ("p-1", 1),
        ("p-1", 0),
        (None, 1),
        (None, 0),
    ]
    # The lane is held: no other worker takes the player's rows meanwhile.
    assert services.claim_due(worker="b", limit=10, now=timezone.now()) == []


def test_a_claim_stops_a_players_run_at_the_first_row_not_due() -> None:
    rows = put(message("p-1", 1), message("p-1", 2), message("p-1", 3))
    later = timezone.now() + timedelta(minutes=5)
    OutboxMessage.objects.filter(pk=rows[1].pk).update(next_attempt_at=later)
    claimed = services.claim_due(worker="a", limit=10, now=timezone.now())
    assert [r.pk for r in claimed] == [rows[0].pk]  # row 3 is due but must not overtake row 2


def test_a_lane_whose_head_waits_is_parked_until_then() -> None:
    (row,) = put(message("p-1", 1))
    later = timezone.now() + timedelta(minutes=5)
    OutboxMessage.objects.filter(pk=row.pk).update(next_attempt_at=later)
    assert services.claim_due(worker="a", limit=10, now=timezone.now()) == []
    assert OutboxLane.objects.get().next_attempt_at == later


def test_a_rate_limited_endpoint_gets_only_its_permits(settings) -> None:
    settings.OUTBOX_RATE_LIMITS = {"game_round": (100, 60.0)}
    put(*[message(f"p-{n}", 1) for n in range(30)], message("p-x", 1, message_type="other"))
    now = timezone.now()
    rows = services.claim_due(worker="a", limit=50, now=now)
    assert sum(r.message_type == "game_round" for r in rows) == 10  # the burst: a tenth
    assert sum(r.message_type == "other" for r in rows) == 1
    assert services.claim_due(worker="a", limit=50, now=now) == []
    later = services.claim_due(worker="a", limit=50, now=now + timedelta(seconds=2))
    assert len(later) == 3  # 90 requests / 60 s refill: 1.5 per second


def test_the_rate_limit_never_exceeds_the_configured_count_in_a_window(settings) -> None:
    settings.OUTBOX_RATE_LIMITS = {"game_round": (100, 60.0)}
    put(*[message(f"p-{n}", 1) for n in range(300)])
    start = timezone.now()
    claimed = 0
    for tick in range(0, 61):
        now = start + timedelta(seconds=tick)
        claimed += len(services.claim_due(worker="a", limit=50, now=now))
    assert 95 <= claimed <= 100


def test_the_circuit_opens_on_failures_and_probes_after_the_pause(
    outbox_pep, outbox_client, settings
) -> None:
    settings.OUTBOX_CIRCUIT_MIN_REQUESTS = 5
    settings.OUTBOX_CIRCUIT_PAUSE = 30
    outbox_pep.post(URL, status=503)
    put(*[message(f"p-{n}", 1) for n in range(8)])
    drain(outbox_client)
    state = EndpointState.objects.get(message_type="game_round")
    assert state.circuit == "open"
    make_due()
    assert services.claim_due(worker="a", limit=50, now=timezone.now()) == []
    later = timezone.now() + timedelta(seconds=31)
    probe = services.claim_due(worker="a", limit=50, now=later)
    assert len(probe) == settings.OUTBOX_CIRCUIT_PROBES == 3  # several probes, one claim
    assert EndpointState.objects.get(message_type="game_round").circuit == "half_open"
    assert services.claim_due(worker="b", limit=50, now=later) == []


def test_a_successful_probe_closes_the_circuit(outbox_pep, outbox_client) -> None:
    outbox_pep.post(URL, status=200)
    EndpointState.objects.create(
        message_type="game_round", circuit="open", retry_at=timezone.now() - timedelta(seconds=1)
    )
    put(message("p-1", 1), message("p-2", 1), message("p-3", 1))
    drain(outbox_client)
    assert EndpointState.objects.get(message_type="game_round").circuit == "closed"
    assert OutboxMessage.objects.filter(status=Status.DELIVERED).count() == 3


def test_delivery_health_reports_the_figures(outbox_pep, outbox_client) -> None:
    outbox_pep.post(URL, status=200)
    outbox_pep.post(URL, status=400)
    put(message("p-1", 1), message("p-2", 1))
    drain(outbox_client)
    put(message("p-3", 1))
    OutboxMessage.objects.filter(player_id="p-3").update(
        next_attempt_at=timezone.now() - timedelta(seconds=90)
    )
    health = selectors.delivery_health()
    assert health["pending"] == 1 and health["failed"] == 1
    assert health["delivered_last_hour"] == 1 and health["failed_last_hour"] == 1
    assert 89 <= health["oldest_due_age_seconds"] <= 120
    assert health["circuits"]["game_round"]["state"] == "closed"


def test_prune_deletes_old_deliveries_in_batches_and_keeps_the_rest(
    outbox_pep, outbox_client
) -> None:
    outbox_pep.post(URL, status=200)
    put(*[message(f"p-{n}", 1) for n in range(5)])
    drain(outbox_client)
    put(message("p-new", 1))
    OutboxMessage.objects.filter(status=Status.DELIVERED).update(
        delivered_at=timezone.now() - timedelta(days=31)
    )
    assert services.prune_delivered(batch_size=2) == 5
    assert list(OutboxMessage.objects.values_list("player_id", flat=True)) == ["p-new"]
    assert not DeliveryAttempt.objects.exists()


def test_the_sweep_and_prune_schedules_exist_once() -> None:
    from django_q.models import Schedule

    services.setup_schedules()
    services.setup_schedules()
    names = sorted(Schedule.objects.filter(name__startswith="events.").values_list("name", "func"))
    assert names == [
        ("events.outbox_prune", "events.tasks.prune"),
        ("events.outbox_sweep", "events.tasks.sweep"),
    ]


def test_the_task_entry_points_drain(outbox_pep, settings, monkeypatch, outbox_client) -> None:
    from events import tasks

    outbox_pep.post(URL, status=200)
    monkeypatch.setattr("events.services.delivery.get_pep_client", lambda: outbox_client)
    settings.OUTBOX_DRAIN_MAX_SECONDS = 5
    put(message("p-1", 1))
    assert tasks.sweep() == 1
    assert tasks.deliver_due() == 0


class FakeClock:
    """The delivery clock (time.monotonic) under test control: each send to PEP takes `step`."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 1000.0, step

    def __call__(self) -> float:
        return self.now

    def answer(self, request):
        self.now += self.step
        return (200, {}, "ok")


def test_a_batch_starts_no_send_that_could_end_after_the_deadline(
    outbox_pep, outbox_client, monkeypatch, settings
) -> None:
    settings.OUTBOX_MAX_IN_FLIGHT = 1  # the fake clock moves per answer: one at a time
    clock = FakeClock(step=5)
    monkeypatch.setattr(delivery, "_clock", clock)
    outbox_pep.add_callback("POST", URL, callback=clock.answer)
    put(*[message(f"p-{n}", 1) for n in range(6)])
    rows = services.claim_due(worker="w1", limit=10, now=timezone.now())
    request_seconds = sum(outbox_client.timeout)  # 13 s: the longest one send may take
    deadline = clock.now + request_seconds + 12  # room to start sends at +0, +5 and +10 s
    results = services.deliver_batch(rows, worker="w1", client=outbox_client, deadline=deadline)
    assert len(results) == len(sent_bodies(outbox_pep)) == 3
    assert OutboxMessage.objects.filter(status=Status.DELIVERED).count() == 3
    unsent = OutboxMessage.objects.filter(status=Status.PENDING)
    assert unsent.count() == 3
    assert all(r.claimed_by == "" and r.lease_expires_at is None for r in unsent)  # released
    assert all(r.attempts == 0 for r in unsent)


def test_a_drain_starts_no_send_after_its_max_seconds(
    outbox_pep, outbox_client, monkeypatch, settings
) -> None:
    settings.OUTBOX_MAX_IN_FLIGHT = 1  # the fake clock moves per answer: one at a time
    clock = FakeClock(step=2)
    monkeypatch.setattr(delivery, "_clock", clock)
    outbox_pep.add_callback("POST", URL, callback=clock.answer)
    put(*[message(f"p-{n}", 1) for n in range(20)])
    sent = services.drain(max_seconds=9, worker="w1", client=outbox_client, sleep=lambda s: None)
    assert sent == 5  # sends started at +0, +2, +4, +6 and +8 s; one at +10 would be late
    assert OutboxMessage.objects.filter(status=Status.DELIVERED).count() == 5
    assert not OutboxMessage.objects.filter(lease_expires_at__isnull=False).exists()


def _spy_on_writes(monkeypatch) -> list[int]:
    """Record the size of each chunk of outcomes written."""
    written: list[int] = []
    real_record = delivery._record

    def spy(results, worker, then=None) -> None:
        written.append(len(results))
        real_record(results, worker, then)

    monkeypatch.setattr(delivery, "_record", spy)
    return written


def test_outcomes_are_written_every_flush_rows_sends_not_only_at_the_end(
    outbox_pep, outbox_client, monkeypatch
) -> None:
    written = _spy_on_writes(monkeypatch)
    outbox_pep.post(URL, status=200)
    count = delivery.FLUSH_ROWS * 2 + 5
    put(*[message(f"p-{n}", 1) for n in range(count)])
    rows = services.claim_due(worker="w1", limit=count, now=timezone.now())
    services.deliver_batch(rows, worker="w1", client=outbox_client)
    assert written == [delivery.FLUSH_ROWS, delivery.FLUSH_ROWS, 5]
    assert DeliveryAttempt.objects.count() == count


def test_outcomes_are_written_at_least_every_second_when_pep_is_slow(
    outbox_pep, outbox_client, monkeypatch, settings
) -> None:
    settings.OUTBOX_MAX_IN_FLIGHT = 1  # one send at a time: the fake clock counts 0.6 s each
    clock = FakeClock(step=0.6)
    monkeypatch.setattr(delivery, "_clock", clock)
    written = _spy_on_writes(monkeypatch)
    outbox_pep.add_callback("POST", URL, callback=clock.answer)
    put(*[message(f"p-{n}", 1) for n in range(5)])
    rows = services.claim_due(worker="w1", limit=50, now=timezone.now())
    services.deliver_batch(rows, worker="w1", client=outbox_client)
    assert written == [2, 2, 1]  # 1.2 s of sends per chunk


# --- the circuit breaker with two workers: only the designated probe moves it ---------------


def _two_workers_and_a_probe(failing: set[str], outbox_pep):
    """`stale` claimed while the circuit was closed; then it opened and `probe` was claimed."""

    def answer(request):
        player = request.body.decode().split('"playerId":"')[1].split('"')[0]
        return (503, {}, "down") if player in failing else (200, {}, "ok")

    outbox_pep.add_callback("POST", URL, callback=answer)
    put(message("p-stale-1", 1), message("p-stale-2", 1), message("p-probe", 1))
    now = timezone.now()
    OutboxMessage.objects.update(next_attempt_at=now - timedelta(minutes=1))
    OutboxLane.objects.update(next_attempt_at=now - timedelta(minutes=1))
    OutboxMessage.objects.filter(player_id="p-probe").update(next_attempt_at=now)
    OutboxLane.objects.filter(player_id="p-probe").update(next_attempt_at=now)
    stale = services.claim_due(worker="old", limit=2, now=now - timedelta(seconds=20))
    EndpointState.objects.create(
        message_type="game_round",
        circuit="open",
        opened_at=now - timedelta(seconds=10),
        retry_at=now - timedelta(seconds=1),
        consecutive_opens=1,
    )
    probe = services.claim_due(worker="new", limit=50, now=now)
    assert [r.player_id for r in probe] == ["p-probe"]
    assert EndpointState.objects.get().circuit == "half_open"
    return stale, probe


def test_a_batch_claimed_before_the_circuit_opened_does_not_close_it(
    outbox_pep, outbox_client
) -> None:
    stale, _probe = _two_workers_and_a_probe(set(), outbox_pep)
    services.deliver_batch(stale, worker="old", client=outbox_client)
    state = EndpointState.objects.get()
    assert (state.circuit, state.consecutive_opens) == ("half_open", 1)  # still probing


def test_a_failing_stale_batch_neither_reopens_nor_doubles_the_pause(
    outbox_pep, outbox_client
) -> None:
    stale, probe = _two_workers_and_a_probe({"p-stale-1", "p-stale-2"}, outbox_pep)
    services.deliver_batch(stale, worker="old", client=outbox_client)
    state = EndpointState.objects.get()
    assert (state.circuit, state.consecutive_opens) == ("half_open", 1)
    services.deliver_batch(probe, worker="new", client=outbox_client)
    assert EndpointState.objects.get().circuit == "closed"  # the probe's success decides


def test_a_failing_probe_reopens_the_circuit_once(outbox_pep, outbox_client, settings) -> None:
    settings.OUTBOX_CIRCUIT_PAUSE = 5
    stale, probe = _two_workers_and_a_probe({"p-probe"}, outbox_pep)
    services.deliver_batch(probe, worker="new", client=outbox_client)
    services.deliver_batch(stale, worker="old", client=outbox_client)
    state = EndpointState.objects.get()
    assert (state.circuit, state.consecutive_opens) == ("open", 2)
    pause = (state.retry_at - state.opened_at).total_seconds()
    assert pause == 10  # doubled once, by the probe alone


def test_an_expired_probes_late_result_is_ignored(outbox_pep, outbox_client) -> None:
    _stale, probe = _two_workers_and_a_probe(set(), outbox_pep)
    # The first probe's lease ran out and a second probe took over the half-open circuit.
    EndpointState.objects.update(retry_at=timezone.now() + timedelta(seconds=300))
    services.deliver_batch(probe, worker="new", client=outbox_client)
    assert EndpointState.objects.get().circuit == "half_open"


def test_a_lease_too_short_for_one_request_backs_off_and_says_why(
    outbox_pep, outbox_client, settings, caplog
) -> None:
    """Such a lease fails system check E001; should it run anyway, the worker must not spin."""
    settings.OUTBOX_LEASE_SECONDS = 5.0  # under connect + read timeout + slack
    put(message("p-1", 1))
    sent, wait = delivery._pass("w1", outbox_client, deadline=delivery._clock() + 5)
    assert (sent, wait) == (0, delivery.BUSY_POLL)  # claimed, released unsent: poll, not 0
    assert "outbox lease too short to send" in caplog.text
    row = OutboxMessage.objects.get()
    assert (row.status, row.attempts, row.claimed_by) == (Status.PENDING, 0, "")
