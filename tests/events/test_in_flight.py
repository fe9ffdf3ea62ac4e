"""Many requests in flight per worker: concurrency, one per player, order, one token, the pool."""

from __future__ import annotations

import threading
from collections import defaultdict

import pytest

from events import services
from events.models import OutboxMessage
from events.services import delivery
from pepbridge.pep.client import PepClient
from tests.events.outbox_fixtures import BASE, message, put, sent_bodies

pytestmark = pytest.mark.django_db
URL = f"{BASE}/rx-api/test/game_round"
Status = OutboxMessage.Status


def drain(pep_client) -> int:
    return services.drain(max_seconds=10, worker="w1", client=pep_client, sleep=lambda s: None)


def _player_and_seq(body: bytes) -> tuple[str, int]:
    text = body.decode()
    player = text.split('"playerId":"')[1].split('"')[0]
    return player, int(text.split('"seq":')[1].split(",")[0].rstrip("}"))


def test_a_worker_keeps_many_requests_in_flight_at_once(
    outbox_pep, outbox_client, settings
) -> None:
    settings.OUTBOX_MAX_IN_FLIGHT = 8
    # PEP answers only once 8 requests are open together: one at a time would break the barrier.
    together = threading.Barrier(8, timeout=5)

    def answer(request):
        together.wait()
        return (200, {}, "ok")

    outbox_pep.add_callback("POST", URL, callback=answer)
    put(*[message(f"p-{n}", 1) for n in range(16)])
    assert drain(outbox_client) == 16
    assert OutboxMessage.objects.filter(status=Status.DELIVERED).count() == 16


def test_a_player_never_has_two_requests_in_flight_and_keeps_its_order(
    outbox_pep, outbox_client, settings
) -> None:
    settings.OUTBOX_MAX_IN_FLIGHT = 16
    lock = threading.Lock()
    open_now: dict[str, int] = defaultdict(int)
    worst = 0

    def answer(request):
        nonlocal worst
        player, _seq = _player_and_seq(request.body)
        with lock:
            open_now[player] += 1
            worst = max(worst, open_now[player])
        threading.Event().wait(0.002)
        with lock:
            open_now[player] -= 1
        return (200, {}, "ok")

    outbox_pep.add_callback("POST", URL, callback=answer)
    put(*[message(f"p-{n % 5}", n // 5) for n in range(60)])
    assert drain(outbox_client) == 60
    assert worst == 1
    seen: dict[str, list[int]] = defaultdict(list)
    for body in sent_bodies(outbox_pep):
        player, seq = _player_and_seq(body)
        seen[player].append(seq)
    assert all(seqs == sorted(seqs) == list(range(12)) for seqs in seen.values())


def test_the_send_threads_share_one_token(outbox_pep, outbox_client, settings) -> None:
    settings.OUTBOX_MAX_IN_FLIGHT = 8
    outbox_pep.post(URL, status=200)
    put(*[message(f"p-{n}", 1) for n in range(20)])
    assert drain(outbox_client) == 20
    token_calls = [c for c in outbox_pep.calls if c.request.url.endswith("/token")]
    assert len(token_calls) == 1


def test_the_client_keeps_a_connection_per_request_in_flight(settings) -> None:
    settings.OUTBOX_MAX_IN_FLIGHT = 40
    client = PepClient(base_url=BASE, client_id="id", client_secret="secret")
    assert client.session.get_adapter(BASE)._pool_maxsize >= 40


def test_a_5xx_is_tried_again_at_once_and_every_try_is_recorded(
    outbox_pep, outbox_client, settings, monkeypatch
) -> None:
    monkeypatch.setattr(delivery.time, "sleep", lambda s: None)
    settings.OUTBOX_QUICK_RETRIES = 2
    outbox_pep.post(URL, status=500)
    outbox_pep.post(URL, status=200)
    (row,) = put(message("p-1", 1))
    assert drain(outbox_client) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.DELIVERED, 2)
    outcomes = list(row.deliveries.order_by("id").values_list("status_code", flat=True))
    assert outcomes == [500, 200]


def test_a_429_is_not_tried_again_at_once(outbox_pep, outbox_client, settings) -> None:
    settings.OUTBOX_QUICK_RETRIES = 2
    outbox_pep.post(URL, status=429)
    (row,) = put(message("p-1", 1))
    drain(outbox_client)
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.PENDING, 1)  # PEP asked to slow down


def test_sends_wait_while_outcomes_are_written_so_a_kill_re_sends_a_bounded_number(
    outbox_pep, outbox_client, settings, monkeypatch
) -> None:
    """A slow outcome write (a loaded database) must not let the threads run ahead unrecorded.

    What a SIGKILL re-sends is what was sent and not yet recorded; the e2e kill test saw 96
    re-sends against a bound of 66 because the threads went on sending during each write.
    """
    settings.OUTBOX_MAX_IN_FLIGHT = 8
    bound = delivery.unrecorded_bound(8)
    lock = threading.Lock()
    sent = recorded = worst = 0
    real_record = delivery._record

    def slow_record(results, worker, then=None) -> None:
        nonlocal recorded
        threading.Event().wait(0.2)
        real_record(results, worker, then)
        with lock:
            recorded += len(results)

    def answer(request):
        nonlocal sent, worst
        with lock:
            sent += 1
            worst = max(worst, sent - recorded)
        return (200, {}, "ok")

    monkeypatch.setattr(delivery, "_record", slow_record)
    outbox_pep.add_callback("POST", URL, callback=answer)
    put(*[message(f"p-{n % 40}", n // 40) for n in range(600)])
    settings.OUTBOX_BATCH_SIZE = 600
    assert drain(outbox_client) == 600
    assert OutboxMessage.objects.filter(status=Status.DELIVERED).count() == 600
    assert 0 < worst <= bound
