"""How long to wait before trying again: the one home of the backoff arithmetic (issue 14).

Each caller keeps its own numbers (the PEP client waits 0.2 s to 3 s inside a call, the outbox
worker 1 s to 30 s through a database outage, feedback downloads 1 to 360 minutes), because
they wait out different things; the shape (doubling up to a cap, then jitter) is written once
here, so a fix to it (an overflow, a jitter that ran above the cap) is made once.

Jitter only spreads retries of many callers apart; nothing secret depends on it, so `random`
is the right generator. Tests pass their own `uniform` to pin it.
"""

from __future__ import annotations

import random
from collections.abc import Callable

# 2**64 times any sensible base is far past any cap: stop doubling there instead of overflowing.
_MAX_EXPONENT = 64

Uniform = Callable[[float, float], float]


def exponential(attempt: int, *, base: float, cap: float) -> float:
    """`base` before the second try, doubling per try, never more than `cap` (no jitter).

    `attempt` counts from 1 (the try that just failed); anything lower is read as 1.
    """
    exponent = min(max(attempt, 1) - 1, _MAX_EXPONENT)
    return float(min(cap, base * 2**exponent))


def delay(
    attempt: int, *, base: float, cap: float, jitter: float = 0.0, uniform: Uniform = random.uniform
) -> float:
    """The exponential step with "full jitter" scaled by `jitter`: uniform in [(1 - jitter) d, d].

    jitter=0 is the plain step, jitter=1 is full jitter (anywhere from 0 to the step); the
    result never exceeds `cap`, so a caller's bound on one wait holds.
    """
    step = exponential(attempt, base=base, cap=cap)
    return spread_below(step, jitter, uniform=uniform)


def spread_below(seconds: float, jitter: float, *, uniform: Uniform = random.uniform) -> float:
    """`seconds` shortened by a random part of at most `jitter` (a fraction from 0 to 1)."""
    fraction = min(max(jitter, 0.0), 1.0)
    if fraction == 0.0:
        return seconds
    return seconds * uniform(1.0 - fraction, 1.0)


def spread_around(seconds: float, jitter: float, *, uniform: Uniform = random.uniform) -> float:
    """`seconds` moved up or down by a random part of at most `jitter` (a fraction, >= 0).

    For a configured schedule (the outbox's OUTBOX_RETRY_SCHEDULE) where the step itself is the
    mean wait, not a bound.
    """
    fraction = max(jitter, 0.0)
    if fraction == 0.0:
        return seconds
    return seconds * uniform(1.0 - fraction, 1.0 + fraction)
