"""The circuit breaker: a sliding window with a minimum sample, several probes, short pauses."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from events.models import EndpointState
from events.services import endpoints

pytestmark = pytest.mark.django_db


def _send(failed: bool) -> endpoints.Sent:
    return endpoints.Sent(None, failed)


def test_a_30_percent_failure_rate_never_opens_the_circuit() -> None:
    chance = random.Random(7)
    now = timezone.now()
    for step in range(400):  # 4,000 sends over 400 s, in chunks of ten
        sends = [_send(chance.random() < 0.3) for _ in range(10)]
        endpoints.record("game_round", sends=sends, now=now + timedelta(seconds=step))
        assert EndpointState.objects.get().circuit == "closed", step


def test_a_full_outage_opens_it_within_the_minimum_sample(settings) -> None:
    now = timezone.now()
    for step in range(10):
        endpoints.record("game_round", sends=[_send(True)] * 5, now=now + timedelta(seconds=step))
        if EndpointState.objects.get().circuit == "open":
            break
    assert (step + 1) * 5 == settings.OUTBOX_CIRCUIT_MIN_REQUESTS


def test_old_failures_fade_out_of_the_window(settings) -> None:
    now = timezone.now()
    endpoints.record("game_round", sends=[_send(True)] * 15, now=now)
    later = now + timedelta(seconds=settings.OUTBOX_CIRCUIT_WINDOW * 3)
    endpoints.record("game_round", sends=[_send(True)] * 10, now=later)
    state = EndpointState.objects.get()
    assert state.circuit == "closed" and state.window_failures < 20


def test_the_pause_doubles_but_stays_short() -> None:
    state = EndpointState(message_type="game_round", consecutive_opens=10)
    now = timezone.now()
    endpoints._open(state, now)
    assert (state.retry_at - now).total_seconds() == endpoints.MAX_PAUSE == 15
