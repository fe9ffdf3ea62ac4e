"""When to try a failed delivery again, and when to give up (the dead letter)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from pepbridge import backoff
from pepbridge.pep.errors import PepTransientError

# PEP asked us to slow down (429), or a request timed out (our client's timeout, or PEP's own
# 408 Request Timeout / 504 Gateway Timeout): never come back sooner than
# OUTBOX_THROTTLE_MIN_DELAY.
THROTTLE_CLASSES = frozenset({"timeout", "http_408", "http_429", "http_504"})
THROTTLE_STATUSES = frozenset({408, 429, 504})


def base_delay(attempts: int) -> float:
    """Seconds before the next try after `attempts` failed tries (the last step repeats)."""
    steps = settings.OUTBOX_RETRY_SCHEDULE
    return float(steps[min(max(attempts, 1), len(steps)) - 1])


def retry_delay(attempts: int, error: PepTransientError) -> float:
    """The jittered schedule step, stretched to a Retry-After and to the throttle floor."""
    jitter = settings.OUTBOX_RETRY_JITTER
    # Jitter spreads retries of a burst of failures; nothing secret depends on it.
    delay = backoff.spread_around(base_delay(attempts), jitter)
    if error.retry_after is not None:
        delay = max(delay, error.retry_after)
    if error.status in THROTTLE_STATUSES or error.error_class in THROTTLE_CLASSES:
        delay = max(delay, settings.OUTBOX_THROTTLE_MIN_DELAY)
    return delay


def next_attempt_at(
    *, now: datetime, first_failed_at: datetime, attempts: int, error: PepTransientError
) -> datetime | None:
    """When to try again, or None when that would fall after the retry window (dead letter)."""
    when = now + timedelta(seconds=retry_delay(attempts, error))
    deadline = first_failed_at + timedelta(seconds=settings.OUTBOX_RETRY_FOR)
    return None if when > deadline else when
