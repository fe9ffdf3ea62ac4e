"""PEP down for longer than the retry window: dead letters, then replay, then delivered in order.

In process, with `responses` for PEP and a simulated clock: the worker (`drain` in its
`--forever` mode) sleeps through the real retry schedule (OUTBOX_RETRY_SCHEDULE, default
30 s ... 8 h, for OUTBOX_RETRY_FOR, default 72 h), and each sleep moves the clock on.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from datetime import datetime, timedelta
from itertools import pairwise

import pytest
import responses as responses_lib
from django.conf import settings
from django.utils import timezone

from events import services
from events.models import DeliveryAttempt, OutboxMessage, Replay
from events.services import delivery, schedule
from tests.events.outbox_fixtures import BASE, message, put, sent_bodies

pytestmark = pytest.mark.django_db
URL = f"{BASE}/rx-api/test/game_round"
Status = OutboxMessage.Status
PLAYERS, PER_PLAYER = 3, 3
DAY = 24 * 3600.0


class Clock:
    """Simulated time: the worker's sleeps move it on; `timezone.now` and deadlines read it."""

    def __init__(self, start: datetime) -> None:
        self.start, self.elapsed = start, 0.0

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed)

    def monotonic(self) -> float:
        return self.elapsed

    def sleep(self, seconds: float) -> None:
        self.elapsed += seconds


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock(timezone.now())
    monkeypatch.setattr(timezone, "now", clock.now)
    monkeypatch.setattr(delivery, "_clock", clock.monotonic)
    return clock


def work(client, clock: Clock, *, seconds: float) -> None:
    """The `outbox_drain --forever` worker, running for `seconds` of simulated time."""
    services.drain(max_seconds=seconds, until_idle=False, worker="w1", client=client,
                   poll=DAY, sleep=clock.sleep)  # fmt: skip


def attempts_of(row: OutboxMessage) -> list[DeliveryAttempt]:
    return list(row.deliveries.order_by("started_at", "id"))


def assert_followed_the_schedule(row: OutboxMessage) -> None:
    """Every try failed with 503, each after its (jittered) step, all within the retry window."""
    tries = attempts_of(row)
    assert len(tries) == row.attempts
    assert [t.outcome for t in tries] == ["retry"] * (len(tries) - 1) + ["failed"]
    assert {(t.status_code, t.error_class, t.trigger) for t in tries} == {
        (503, "http_503", "scheduled")
    }
    jitter = settings.OUTBOX_RETRY_JITTER
    for step, (before, after) in enumerate(pairwise(tries), start=1):
        gap = (after.started_at - before.started_at).total_seconds()
        delay = schedule.base_delay(step)
        assert delay * (1 - jitter) - 1 <= gap <= delay * (1 + jitter) + 1
    window = timedelta(seconds=settings.OUTBOX_RETRY_FOR)
    longest_step = timedelta(seconds=max(settings.OUTBOX_RETRY_SCHEDULE) * (1 + jitter))
    span = tries[-1].started_at - tries[0].started_at
    assert window - longest_step < span <= window  # gave up only when the next try fell outside


def test_pep_down_past_the_retry_window_dead_letters_then_a_replay_delivers_all_in_order(
    outbox_pep, outbox_client, clock, settings
) -> None:
    settings.OUTBOX_QUICK_RETRIES = 0  # one try per schedule step, so the steps can be counted
    rows = put(*[message(f"p-{p}", seq) for seq in range(PER_PLAYER) for p in range(PLAYERS)])
    original = {row.pk: row.body_bytes() for row in rows}
    outbox_pep.post(URL, status=503)

    # The outage: each player's rows in turn use up the retry window (a dead letter does not
    # hold back the player's next row), so it takes PER_PLAYER windows for all to give up.
    windows = PER_PLAYER * settings.OUTBOX_RETRY_FOR
    for _day in range(math.ceil(windows / DAY) + 2):
        work(outbox_client, clock, seconds=DAY)
        if not OutboxMessage.objects.filter(status=Status.PENDING).exists():
            break
    stored = {row.pk: row for row in OutboxMessage.objects.all()}
    assert set(stored) == set(original)  # nothing lost
    assert {row.status for row in stored.values()} == {Status.FAILED}
    assert {(row.last_status_code, row.last_error_class) for row in stored.values()} == {
        (503, "http_503")
    }
    for row in stored.values():
        assert_followed_the_schedule(row)
    for player in range(PLAYERS):  # even while failing, a player's rows were tried in order
        mine = [stored[row.pk] for row in rows if row.player_id == f"p-{player}"]
        for earlier, later in pairwise(mine):
            assert attempts_of(earlier)[-1].started_at <= attempts_of(later)[0].started_at
    outage_sends = sent_bodies(outbox_pep)
    assert len(outage_sends) == DeliveryAttempt.objects.count()  # every try is recorded
    assert len(outage_sends) == sum(row.attempts for row in stored.values())
    assert set(outage_sends) == set(original.values())
    assert clock.elapsed > windows * 0.8  # the outage really lasted that long

    # PEP is back; an operator replays the dead letters and a worker drains them.
    outbox_pep.replace(responses_lib.POST, URL, status=200)
    assert services.replay_failed(actor="ops@operator.test", message_type="game_round") == len(rows)
    services.drain(max_seconds=60, worker="w2", client=outbox_client, sleep=clock.sleep)

    delivered = {row.pk: row for row in OutboxMessage.objects.all()}
    assert {row.status for row in delivered.values()} == {Status.DELIVERED}
    replay_sends = sent_bodies(outbox_pep)[len(outage_sends) :]
    assert sorted(replay_sends) == sorted(original.values())  # each once, bytes unchanged
    by_player: dict[str, list[bytes]] = defaultdict(list)
    for body in replay_sends:
        by_player[json.loads(body)["playerId"]].append(body)
    assert by_player == {
        f"p-{p}": [original[row.pk] for row in rows if row.player_id == f"p-{p}"]
        for p in range(PLAYERS)
    }  # each player's rows in their original order
    for pk, row in delivered.items():
        last = attempts_of(row)[-1]
        assert (last.outcome, last.trigger, last.status_code) == ("delivered", "replay", 200)
        assert row.attempts == stored[pk].attempts + 1
    assert list(Replay.objects.values_list("actor", "count")) == [("ops@operator.test", len(rows))]
