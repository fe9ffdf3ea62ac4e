"""Outcome writes and endpoint state under concurrent workers: no deadlock re-sends, no noise."""

from __future__ import annotations

import socket
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from events import lanes
from events.models import EndpointState, OutboxLane, OutboxMessage
from events.services import claim, delivery, endpoints
from tests.events.outbox_fixtures import BASE, message, put

pytestmark = pytest.mark.django_db
URL = f"{BASE}/rx-api/test/game_round"


class _Deadlock(Exception):
    sqlstate = "40P01"


def _deadlock() -> OperationalError:
    error = OperationalError("deadlock detected")
    error.__cause__ = _Deadlock()
    return error


def test_endpoints_are_locked_in_one_sorted_order_whatever_the_chunk(monkeypatch) -> None:
    seen: list[str] = []
    monkeypatch.setattr(endpoints, "record", lambda message_type, **kw: seen.append(message_type))
    rows = put(
        message("p-1", 1, message_type="money_transaction"),
        message("p-2", 1, message_type="game_round"),
        message("p-3", 1, message_type="crm_trigger"),
    )
    now = timezone.now()
    results = [delivery.Result(row, now, 1, "delivered", 200) for row in rows]
    delivery._count_for_circuits(results, now)
    assert seen == ["crm_trigger", "game_round", "money_transaction"]


def test_an_outcome_write_that_loses_a_deadlock_is_retried_and_logged_as_one(
    outbox_pep, outbox_client, monkeypatch, caplog
) -> None:
    outbox_pep.post(URL, status=200)
    put(message("p-1", 1))
    real = delivery._record_once
    failures = iter([True])

    def deadlocking(results, worker, then=None):
        if next(failures, False):
            raise _deadlock()
        real(results, worker, then)

    monkeypatch.setattr(delivery, "_record_once", deadlocking)
    monkeypatch.setattr(delivery.time, "sleep", lambda s: None)
    assert delivery.drain(max_seconds=5, worker="w", client=outbox_client, sleep=lambda s: None)
    assert OutboxMessage.objects.get().status == OutboxMessage.Status.DELIVERED
    assert "outbox deadlock writing outcomes; retrying" in caplog.text
    assert "outbox database error" not in caplog.text


def test_a_deadlock_retry_is_bounded(monkeypatch) -> None:
    calls: list[int] = []

    def always(results, worker, then=None):
        calls.append(1)
        raise _deadlock()

    monkeypatch.setattr(delivery, "_record_once", always)
    monkeypatch.setattr(delivery.time, "sleep", lambda s: None)
    (row,) = put(message("p-1", 1))
    with pytest.raises(OperationalError):
        delivery._record([delivery.Result(row, timezone.now(), 1, "delivered", 200)], "w")
    assert len(calls) == delivery.RECORD_ATTEMPTS


def test_another_operational_error_is_not_retried_as_a_deadlock(monkeypatch) -> None:
    calls: list[int] = []

    def broken(results, worker, then=None):
        calls.append(1)
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(delivery, "_record_once", broken)
    (row,) = put(message("p-1", 1))
    with pytest.raises(OperationalError):
        delivery._record([delivery.Result(row, timezone.now(), 1, "delivered", 200)], "w")
    assert calls == [1]


def test_the_endpoint_state_row_is_created_without_an_integrity_error(
    django_assert_num_queries,
) -> None:
    EndpointState.objects.create(message_type="game_round")
    with transaction.atomic():
        # The row exists already (a rival worker made it): the insert is skipped, not an error.
        EndpointState.objects.bulk_create(
            [EndpointState(message_type="game_round")], ignore_conflicts=True
        )
    with transaction.atomic():
        assert endpoints._state("money_transaction").message_type == "money_transaction"
    assert EndpointState.objects.count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_writing_opposite_endpoint_orders_do_not_deadlock() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")
    rows = put(
        message("p-1", 1, message_type="money_transaction"),
        message("p-2", 1, message_type="game_round"),
        message("p-3", 1, message_type="game_round"),
        message("p-4", 1, message_type="money_transaction"),
    )
    now = timezone.now()
    chunks = [
        [
            delivery.Result(rows[0], now, 1, "delivered", 200),
            delivery.Result(rows[1], now, 1, "delivered", 200),
        ],
        [
            delivery.Result(rows[2], now, 1, "delivered", 200),
            delivery.Result(rows[3], now, 1, "delivered", 200),
        ],
    ]
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def write(chunk):
        try:
            for _ in range(30):
                barrier.wait(timeout=10)
                delivery._record_once(chunk, "w")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(chunk,)) for chunk in chunks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


_LATER = timezone.now() + timedelta(days=1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("made", "ready", "parked"),
    [
        # B parked, A freed: the parked lane's UPDATE used to come first.
        (("p-a", "p-b"), {"p-a": 0}, {"p-b": (0, _LATER)}),
        # Both emptied, B stored first: the DELETE visits lanes in the table's order.
        (("p-b", "p-a"), {"p-a": 0, "p-b": 0}, {}),
        # Nothing to drop (A's version unknown): the lock is a statement of its own.
        (("p-a", "p-b"), {"p-a": None}, {"p-b": (0, _LATER)}),
    ],
    ids=["park-and-free", "drop-two", "nothing-to-drop"],
)
def test_a_hand_back_and_an_enqueue_touching_the_same_two_lanes_do_not_deadlock(
    made, ready, parked
) -> None:
    """The enqueue locks lane A then B (sorted), the hand-back takes both. Before, it could
    lock B first and then wait for A: a deadlock PostgreSQL broke by cancelling one side."""
    _race_an_enqueue_of_a_then_b(made, "t1", lambda: claim.release_lanes("t1", ready, parked))
    # Both enqueued meanwhile (versions bumped): both freed and due, neither dropped nor parked.
    left = {lane.player_id: lane for lane in OutboxLane.objects.all()}
    assert {player: lane.claimed_by for player, lane in left.items()} == {"p-a": "", "p-b": ""}
    assert all(
        lane.next_attempt_at < timezone.now() + timedelta(seconds=30) for lane in left.values()
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_freeing_a_dead_workers_lanes_and_an_enqueue_of_two_of_them_do_not_deadlock(
    monkeypatch,
) -> None:
    token = f"{socket.gethostname()}:1:dead"
    monkeypatch.setattr(claim, "_pid_namespace", lambda: "ns")
    monkeypatch.setattr(claim, "_dead_claimant", lambda held, host, namespace: held == token)
    _race_an_enqueue_of_a_then_b(("p-b", "p-a"), token, lambda: claim.release_dead(timezone.now()))
    assert set(OutboxLane.objects.values_list("claimed_by", flat=True)) == {""}


def _race_an_enqueue_of_a_then_b(made: tuple[str, ...], token: str, take_both: Any) -> None:
    """Lanes `made` (in that order) held by `token`; an enqueue holds A while `take_both` runs
    in its own transaction and waits for A, then touches B. No side may fail."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")
    now = timezone.now()
    lease = now + timedelta(minutes=2)
    for player in made:
        OutboxLane.objects.create(
            player_id=player,
            version=0,
            claimed_by=token,
            lease_expires_at=lease,
            next_attempt_at=lease,
        )
    errors: list[BaseException] = []
    a_held, taker_pid = threading.Event(), []

    def enqueue_a_then_b() -> None:
        try:
            with transaction.atomic():
                lanes.touch(["p-a"], due=now)
                a_held.set()
                _wait_until_blocked_on_a_lock(taker_pid)
                lanes.touch(["p-b"], due=now)
        except BaseException as exc:
            errors.append(exc)
        finally:
            a_held.set()
            connection.close()

    def take() -> None:
        try:
            taker_pid.append(connection.cursor().connection.info.backend_pid)
            a_held.wait(timeout=10)
            with transaction.atomic():
                take_both()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=enqueue_a_then_b), threading.Thread(target=take)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []


def _wait_until_blocked_on_a_lock(pids: list[int]) -> None:
    """Until the hand-back's backend waits on a row lock (the enqueue holds lane A)."""
    deadline = time.monotonic() + 10
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            if pids:
                cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", pids)
                if (cursor.fetchone() or [None])[0] == "Lock":
                    return
            time.sleep(0.01)
    raise AssertionError("the hand-back never waited for lane A")
