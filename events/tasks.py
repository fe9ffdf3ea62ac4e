"""django-q2 entry points. django-q2 only runs these; the outbox rows own the delivery state."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from events import lanes, selectors, services

LANE_REPAIR_WINDOW = timedelta(minutes=15)


def deliver_due(trigger: str = "kick") -> int:
    """Deliver what is due now (queued on commit by enqueue); return how many were attempted.

    When a backlog is waiting (more due lanes than one claim takes), it first asks for more
    passes, so every django-q2 worker drains it, not only the one the kick landed on.
    """
    if trigger != "fan-out" and selectors.backlog_waiting():
        services.request_passes(settings.OUTBOX_DRAIN_PASSES - 1)
    return services.drain(max_seconds=settings.OUTBOX_DRAIN_MAX_SECONDS)


def sweep() -> int:
    """The periodic pass (django-q2 Schedule): picks up whatever a lost kick or dead worker left.

    It gives a lane to any recent pending row without one (rows written by code older
    than the lanes during a rolling deploy): an index range over the last LANE_REPAIR_WINDOW;
    and fans out like deliver_due when a backlog is waiting.
    """
    lanes.repair(since=timezone.now() - LANE_REPAIR_WINDOW)
    if selectors.backlog_waiting():
        services.request_passes(settings.OUTBOX_DRAIN_PASSES - 1)
    return services.drain(max_seconds=settings.OUTBOX_DRAIN_MAX_SECONDS)


def prune() -> int:
    """Delete delivered rows past OUTBOX_PRUNE_AFTER_DAYS (hourly Schedule)."""
    return services.prune_delivered()
