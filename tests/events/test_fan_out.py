"""Every worker drains a backlog: a pass that finds one queues more passes (once per pass)."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from events import kick, selectors, tasks
from tests.events.outbox_fixtures import message, put

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch) -> list[dict]:
    calls: list[dict] = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda func, **kw: calls.append(kw))
    monkeypatch.setattr(tasks.services, "drain", lambda **kw: 0)
    cache.delete(kick.FAN_OUT_KEY)
    return calls


def test_a_backlog_gets_one_pass_per_worker(queued, settings) -> None:
    settings.OUTBOX_MAX_IN_FLIGHT = 4
    settings.OUTBOX_DRAIN_PASSES = 3
    put(*[message(f"p-{n}", 1) for n in range(5)])  # more players due than 4 in flight
    assert selectors.backlog_waiting()
    tasks.deliver_due()
    assert [call["trigger"] for call in queued] == ["fan-out", "fan-out"]
    tasks.deliver_due()  # the passes are running: no more are queued
    tasks.sweep()
    assert len(queued) == 2


def test_a_queue_one_worker_keeps_up_with_gets_no_extra_pass(queued, settings) -> None:
    settings.OUTBOX_MAX_IN_FLIGHT = 4
    settings.OUTBOX_DRAIN_PASSES = 3
    put(*[message(f"p-{n}", 1) for n in range(4)])
    tasks.deliver_due()
    tasks.sweep()
    assert queued == []


def test_a_fanned_out_pass_does_not_fan_out_again(queued, settings) -> None:
    settings.OUTBOX_MAX_IN_FLIGHT = 1
    put(*[message(f"p-{n}", 1) for n in range(5)])
    tasks.deliver_due(trigger="fan-out")
    assert queued == []
