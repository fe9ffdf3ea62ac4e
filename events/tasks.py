"""django-q2 entry points. django-q2 only runs these; the outbox rows own the delivery state."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from events import lanes, services

LANE_REPAIR_WINDOW = timedelta(minutes=15)


def deliver_due(trigger: str = "kick") -> int:
    """Deliver what is due now (queued on commit by enqueue); return how many were attempted."""
    return services.drain(max_seconds=settings.OUTBOX_DRAIN_MAX_SECONDS)


def sweep() -> int:
    """The periodic pass (django-q2 Schedule): picks up whatever a lost kick or dead worker left.

    It first gives a lane to any recent pending row without one (rows written by code older
    than the lanes during a rolling deploy): an index range over the last LANE_REPAIR_WINDOW.
    """
    lanes.repair(since=timezone.now() - LANE_REPAIR_WINDOW)
    return services.drain(max_seconds=settings.OUTBOX_DRAIN_MAX_SECONDS)


def prune() -> int:
    """Delete delivered rows past OUTBOX_PRUNE_AFTER_DAYS (hourly Schedule)."""
    return services.prune_delivered()
