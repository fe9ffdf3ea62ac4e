"""Ask django-q2 to run a delivery pass soon after a commit, without one task per message."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger("events")

KICK_KEY = "events:outbox:kick"


def request_delivery() -> None:
    """Queue one `events.tasks.deliver_due` task unless one was queued moments ago.

    Called on commit by enqueue(). A burst of commits queues one task (the cache key debounces
    them for OUTBOX_KICK_DEBOUNCE seconds; the task clears it when it starts, so a commit made
    while it runs queues the next pass). A lost kick costs latency, never a message: the
    periodic sweep delivers anything due.
    """
    if not settings.OUTBOX_KICK_ON_COMMIT:
        return
    debounce = settings.OUTBOX_KICK_DEBOUNCE
    if debounce and not cache.add(KICK_KEY, 1, timeout=debounce):
        return
    from django_q.tasks import async_task

    try:
        async_task("events.tasks.deliver_due", trigger="kick", group="outbox")
    except Exception:  # the broker being down must not fail the caller's committed work
        logger.warning("outbox kick not queued; the sweep will deliver", exc_info=True)


def clear_kick() -> None:
    """Let the next commit queue a new pass (called when a pass starts)."""
    cache.delete(KICK_KEY)


FAN_OUT_KEY = "events:outbox:fan-out"


def request_passes(count: int) -> int:
    """Queue `count` more delivery passes, at most once per pass length; return how many.

    So that a backlog is drained by every django-q2 worker at once: a pass lasts up to
    OUTBOX_DRAIN_MAX_SECONDS and does not end while work is due, and the lanes keep the
    passes from ever taking the same player. Debounced through the cache, like the kick.
    """
    if count <= 0 or not cache.add(FAN_OUT_KEY, 1, timeout=settings.OUTBOX_DRAIN_MAX_SECONDS):
        return 0
    from django_q.tasks import async_task

    try:
        for _ in range(count):
            async_task("events.tasks.deliver_due", trigger="fan-out", group="outbox")
    except Exception:  # the broker being down must not stop this pass
        logger.warning("outbox fan-out not queued; this pass drains alone", exc_info=True)
        return 0
    return count
