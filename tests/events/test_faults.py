"""Faults delivery survives: PEP down for long, a dead worker, rival workers, a 400, a DB blip."""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import timedelta

import pytest
import requests
from django.db import IntegrityError, OperationalError, connection
from django.utils import timezone

from events import services, tasks
from events.models import EndpointState, OutboxLane, OutboxMessage
from events.services import delivery
from tests.events.outbox_fixtures import BASE, make_due, message, put, sent_bodies

pytestmark = pytest.mark.django_db
URL = f"{BASE}/rx-api/test/game_round"
Status = OutboxMessage.Status


def drain(pep_client, **kwargs) -> int:
    kwargs.setdefault("sleep", lambda s: None)
    kwargs.setdefault("max_seconds", 5)
    return services.drain(worker="w1", client=pep_client, **kwargs)


def test_pep_down_for_hours_loses_nothing_and_drains_in_order(outbox_pep, outbox_client) -> None:
    pep_up = False
    received: dict[str, list[int]] = defaultdict(list)

    def answer(request):
        if not pep_up:
            raise requests.ConnectionError("connection refused")
        body = request.body.decode()
        player, seq = body.split('"playerId":"')[1].split('"')[0], int(body.split('"seq":')[1][0])
        received[player].append(seq)
        return (200, {}, "ok")

    outbox_pep.add_callback("POST", URL, callback=answer)
    put(*[message(f"p-{p}", seq) for seq in range(1, 6) for p in range(4)])
    # A pass that must wait (the open circuit's short pause) spins until its deadline, the
    # test's sleep returning at once: one second is room enough for 20 rows, and saves 50 s.
    for _hour in range(12):  # a long outage: every retry fails, the circuit opens and probes
        drain(outbox_client, max_seconds=1)
        make_due()
        EndpointState.objects.update(retry_at=timezone.now() - timedelta(seconds=1))
    assert OutboxMessage.objects.filter(status=Status.PENDING).count() == 20
    assert EndpointState.objects.get().consecutive_opens >= 1
    pep_up = True
    for _round in range(10):
        make_due()
        EndpointState.objects.update(retry_at=timezone.now() - timedelta(seconds=1))
        drain(outbox_client, max_seconds=1)
    assert OutboxMessage.objects.filter(status=Status.DELIVERED).count() == 20
    assert dict(received) == {f"p-{p}": [1, 2, 3, 4, 5] for p in range(4)}
    assert EndpointState.objects.get().circuit == "closed"


class Killed(BaseException):
    """The worker process dying mid-batch (not an error the worker could catch)."""


def test_a_worker_killed_mid_delivery_is_replaced_after_the_lease(outbox_pep, outbox_client):
    calls = 0

    def die_on_second(request):
        nonlocal calls
        calls += 1
        if calls == 2:
            raise Killed
        return (200, {}, "ok")

    outbox_pep.add_callback("POST", URL, callback=die_on_second)
    rows = put(*[message(f"p-{n}", 1) for n in range(3)])
    with pytest.raises(Killed):
        drain(outbox_client)
    # The dead worker's rows are leased: nobody else may send them yet.
    assert services.claim_due(worker="w2", limit=10, now=timezone.now()) == []
    _let_leases_run_out()
    drain(outbox_client)
    assert OutboxMessage.objects.filter(status=Status.DELIVERED).count() == 3
    # At least once: the row sent just before the crash went out twice, none was lost.
    assert sorted(sent_bodies(outbox_pep)).count(rows[0].body_bytes()) == 2


def _let_leases_run_out() -> None:
    past = timezone.now() - timedelta(seconds=1)
    OutboxMessage.objects.update(lease_expires_at=past)
    OutboxLane.objects.update(lease_expires_at=past, next_attempt_at=past)


def test_a_400_dead_letters_at_once_with_peps_error(outbox_pep, outbox_client) -> None:
    outbox_pep.post(URL, status=400, json={"message": "playerId: unknown player"})
    (row,) = put(message("p-1", 1))
    drain(outbox_client)
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.FAILED, 1)
    assert "unknown player" in row.last_error


def _claim_failing(monkeypatch, error: Exception, times: int) -> None:
    """The worker's claim raises `error` the first `times` calls, then works again."""
    real_claim = delivery.claim_lanes
    failures = iter([True] * times)

    def failing_claim(**kwargs):
        if next(failures, False):
            raise error
        return real_claim(**kwargs)

    monkeypatch.setattr(delivery, "claim_lanes", failing_claim)


def test_the_worker_backs_off_while_the_database_is_unreachable(
    outbox_pep, outbox_client, monkeypatch, caplog
) -> None:
    outbox_pep.post(URL, status=200)
    put(message("p-1", 1))
    _claim_failing(monkeypatch, OperationalError("server closed the connection unexpectedly"), 2)
    monkeypatch.setattr(delivery, "_drop_connection", lambda: None)  # keep the test transaction
    sleeps: list[float] = []
    assert drain(outbox_client, sleep=sleeps.append) == 1
    assert sleeps[:2] == [1.0, 2.0]
    assert "outbox database error" in caplog.text
    assert OutboxMessage.objects.get().status == Status.DELIVERED


def test_a_database_error_from_a_bug_is_logged_as_one_and_backed_off(
    outbox_pep, outbox_client, monkeypatch, caplog
) -> None:
    outbox_pep.post(URL, status=200)
    put(message("p-1", 1))
    bug = IntegrityError("NOT NULL constraint failed: events_outboxmessage.path")
    _claim_failing(monkeypatch, bug, 1)
    dropped: list[bool] = []
    monkeypatch.setattr(delivery, "_drop_connection", lambda: dropped.append(True))
    sleeps: list[float] = []
    assert drain(outbox_client, sleep=sleeps.append) == 1  # the worker lives on
    assert sleeps[0] == 1.0
    (record,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert "bug" in record.getMessage() and "not an outage" in record.getMessage()
    assert record.exc_info and record.exc_info[0] is IntegrityError  # the traceback is logged
    assert dropped == []  # the connection is fine: nothing to reconnect
    assert OutboxMessage.objects.get().status == Status.DELIVERED


def test_a_connection_fault_is_an_outage_not_a_bug(
    outbox_pep, outbox_client, monkeypatch, caplog
) -> None:
    outbox_pep.post(URL, status=200)
    put(message("p-1", 1))
    _claim_failing(monkeypatch, OperationalError("server closed the connection unexpectedly"), 1)
    monkeypatch.setattr(delivery, "_drop_connection", lambda: None)
    drain(outbox_client)
    assert [r.levelname for r in caplog.records if "outbox" in r.getMessage()] == ["WARNING"]


def test_a_worker_killed_mid_batch_resends_at_most_one_chunk(
    outbox_pep, outbox_client, monkeypatch, settings
) -> None:
    # One request in flight, so the sends before the kill are exactly known; with more in
    # flight the bound grows by OUTBOX_MAX_IN_FLIGHT (tests/events/test_e2e_worker_kill.py).
    settings.OUTBOX_MAX_IN_FLIGHT = 1
    monkeypatch.setattr(delivery, "FLUSH_ROWS", 10)  # chunks smaller than the 20 rows sent
    calls = 0

    def die_on_thirteenth(request):
        nonlocal calls
        calls += 1
        if calls == 13:
            raise Killed
        return (200, {}, "ok")

    outbox_pep.add_callback("POST", URL, callback=die_on_thirteenth)
    rows = put(*[message(f"p-{n}", 1) for n in range(20)])
    with pytest.raises(Killed):
        drain(outbox_client)
    # The first chunk of ten was written before the kill; sends 11 and 12 were not.
    assert OutboxMessage.objects.filter(status=Status.DELIVERED).count() == 10
    _let_leases_run_out()
    drain(outbox_client)
    assert OutboxMessage.objects.filter(status=Status.DELIVERED).count() == 20
    bodies = sent_bodies(outbox_pep)
    twice = [row for row in rows if bodies.count(row.body_bytes()) > 1]
    assert 1 <= len(twice) <= delivery.FLUSH_ROWS  # at least once, and at most a chunk again


@pytest.mark.parametrize("kick_on_commit", [False, True])
def test_a_due_row_whose_kick_was_lost_is_delivered_by_the_sweep(
    outbox_pep, outbox_client, monkeypatch, settings, django_capture_on_commit_callbacks,
    kick_on_commit,
) -> None:  # fmt: skip
    """With OUTBOX_KICK_ON_COMMIT off, or the queued kick never run, the sweep task delivers."""
    outbox_pep.post(URL, status=200)
    settings.OUTBOX_KICK_ON_COMMIT = kick_on_commit
    settings.OUTBOX_DRAIN_MAX_SECONDS = 5
    queued: list[str] = []  # the broker: a queued kick lands here and is never run
    monkeypatch.setattr("django_q.tasks.async_task", lambda func, **kw: queued.append(func))
    monkeypatch.setattr("events.services.delivery.get_pep_client", lambda: outbox_client)
    with django_capture_on_commit_callbacks(execute=True):
        (row,) = put(message("p-1", 1))
    assert queued == (["events.tasks.deliver_due"] if kick_on_commit else [])
    row.refresh_from_db()
    assert row.status == Status.PENDING
    assert tasks.sweep() == 1
    row.refresh_from_db()
    assert row.status == Status.DELIVERED
    assert sent_bodies(outbox_pep) == [row.body_bytes()]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_on_postgresql_never_claim_the_same_row() -> None:
    put(*[message(f"p-{n}", seq) for n in range(200) for seq in (1, 2)])
    claimed: dict[str, list[int]] = {"a": [], "b": [], "c": []}
    barrier = threading.Barrier(len(claimed))

    def work(name: str) -> None:
        barrier.wait()
        try:
            for _ in range(40):
                rows = services.claim_due(worker=name, limit=7, now=timezone.now())
                claimed[name] += [row.pk for row in rows]
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(name,)) for name in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [pk for ids in claimed.values() for pk in ids]
    # Each row once: a claimed lane brings its player's whole run (both rows), never shared.
    assert len(everything) == len(set(everything)) == 400
    assert all(claimed.values())  # every worker got some
