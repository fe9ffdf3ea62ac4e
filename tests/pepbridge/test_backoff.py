"""The one backoff helper (pepbridge/backoff.py) and the numbers each caller keeps through it."""

from __future__ import annotations

import random

import pytest

from pepbridge import backoff


def test_the_step_doubles_from_base_and_stops_at_the_cap() -> None:
    steps = [backoff.exponential(n, base=0.2, cap=3.0) for n in range(1, 7)]
    assert steps == pytest.approx([0.2, 0.4, 0.8, 1.6, 3.0, 3.0])


def test_an_attempt_below_one_waits_the_base() -> None:
    assert backoff.exponential(0, base=1.0, cap=30.0) == 1.0
    assert backoff.exponential(-5, base=1.0, cap=30.0) == 1.0


def test_a_huge_attempt_count_is_the_cap_not_an_overflow() -> None:
    assert backoff.delay(10**6, base=0.5, cap=30.0) == 30.0


@pytest.mark.parametrize("failures", range(12))
def test_the_outbox_database_backoff_is_unchanged(failures: int) -> None:
    """events/services/delivery.py used min(30, 0.5 * 2 ** min(failures + 1, 8))."""
    before = min(30.0, 0.5 * 2 ** min(failures + 1, 8))
    assert backoff.delay(failures + 1, base=1.0, cap=30.0) == before


@pytest.mark.parametrize("attempts", range(1, 15))
def test_the_feedback_download_backoff_is_unchanged(attempts: int) -> None:
    """reconciliation/feedback.py used min(2 ** (attempts - 1), 360) minutes."""
    assert backoff.delay(attempts, base=1, cap=360) == min(2 ** (attempts - 1), 360)


def test_jitter_shortens_by_at_most_its_fraction_and_never_passes_the_cap() -> None:
    rng = random.Random(14)
    for attempt in range(1, 40):
        step = backoff.exponential(attempt, base=0.2, cap=3.0)
        got = backoff.delay(attempt, base=0.2, cap=3.0, jitter=0.25, uniform=rng.uniform)
        assert 0.75 * step <= got <= step <= 3.0


def test_the_pep_client_jitter_is_the_old_range() -> None:
    """pepbridge/pep/client.py multiplied by random.uniform(0.75, 1.0)."""
    asked: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        asked.append((low, high))
        return low

    assert backoff.delay(3, base=0.2, cap=3.0, jitter=0.25, uniform=uniform) == pytest.approx(0.6)
    assert asked == [(0.75, 1.0)]


def test_full_jitter_may_reach_zero_and_out_of_range_jitter_is_clamped() -> None:
    assert backoff.delay(4, base=1.0, cap=60.0, jitter=1.0, uniform=lambda low, _: low) == 0.0
    assert backoff.delay(4, base=1.0, cap=60.0, jitter=7.0, uniform=lambda low, _: low) == 0.0
    assert backoff.delay(4, base=1.0, cap=60.0, jitter=-1.0, uniform=lambda *_: 0.0) == 8.0


def test_spread_around_moves_a_schedule_step_both_ways() -> None:
    """events/services/schedule.py multiplied by random.uniform(1 - jitter, 1 + jitter)."""
    assert backoff.spread_around(30.0, 0.2, uniform=lambda low, _: low) == pytest.approx(24.0)
    assert backoff.spread_around(30.0, 0.2, uniform=lambda _, high: high) == pytest.approx(36.0)
    assert backoff.spread_around(30.0, 0.0, uniform=lambda *_: 99.0) == 30.0
