"""django-q2 entry points. django-q2 only runs these; the outbox rows own the delivery state."""

from __future__ import annotations

from django.conf import settings

from events import services


def deliver_due(trigger: str = "kick") -> int:
    """Deliver what is due now (queued on commit by enqueue); return how many were attempted."""
    return services.drain(max_seconds=settings.OUTBOX_DRAIN_MAX_SECONDS)


def sweep() -> int:
    """The periodic pass (django-q2 Schedule): picks up whatever a lost kick or dead worker left."""
    return services.drain(max_seconds=settings.OUTBOX_DRAIN_MAX_SECONDS)


def prune() -> int:
    """Delete delivered rows past OUTBOX_PRUNE_AFTER_DAYS (hourly Schedule)."""
    return services.prune_delivered()
