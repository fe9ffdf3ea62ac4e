"""The operations dashboard's figures: a handful of aggregate queries, no loop over rows.

Composition: it reads every app's tables, so it sits above them all (docs/architecture.md,
"Layers"); the admin building blocks the apps share stay in pepbridge/backoffice.

Every query here is an aggregate served by an index (docs/back-office.md lists which), so the
dashboard and /healthz stay fast with millions of outbox rows. The hourly series are filled into
24 buckets in Python: that loop is over hours, never over rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, F, Min
from django.db.models.functions import TruncHour
from django.utils import timezone

from bonuses.models import BonusAssignment, RejectedAssignment
from events.models import DeliveryAttempt, EndpointState, OutboxMessage
from events.selectors import delivery_health
from reconciliation.models import RepairState
from webhooks.models import Fulfilment, WebhookDelivery

HOURS = 24
OUTCOMES = tuple(DeliveryAttempt.Outcome.values)


@dataclass(frozen=True)
class HourBucket:
    """One hour of a series; `counts` maps a series name to its count in that hour."""

    hour: datetime
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def hour_starts(now: datetime) -> list[datetime]:
    """The last 24 hour starts in the active time zone, oldest first (the current hour last)."""
    current = timezone.localtime(now).replace(minute=0, second=0, microsecond=0)
    return [current - timedelta(hours=back) for back in range(HOURS - 1, -1, -1)]


def _bucketed(rows: list[dict[str, Any]], hours: list[datetime], names: tuple[str, ...]) -> list:
    counts = {(row["hour"], row["series"]): row["n"] for row in rows}
    return [
        HourBucket(hour=hour, counts={name: counts.get((hour, name), 0) for name in names})
        for hour in hours
    ]


def deliveries_per_hour(now: datetime) -> list[HourBucket]:
    """Attempts to send to PEP per hour of the last 24, by outcome (delivered, retry, failed)."""
    hours = hour_starts(now)
    rows = list(
        DeliveryAttempt.objects.filter(started_at__gte=hours[0])
        .annotate(hour=TruncHour("started_at"), series=F("outcome"))
        .values("hour", "series")
        .annotate(n=Count("id"))
        .order_by()
    )
    return _bucketed(rows, hours, OUTCOMES)


def assignments_per_hour(now: datetime) -> list[HourBucket]:
    """PEP's assign-bonus requests per hour: accepted (first copy) and rejected (400)."""
    hours = hour_starts(now)
    # Naming every status lets PostgreSQL use the (status, received_at) index for the range.
    accepted = (
        BonusAssignment.objects.filter(
            status__in=BonusAssignment.Status.values, received_at__gte=hours[0]
        )
        .annotate(hour=TruncHour("received_at"))
        .values("hour")
        .annotate(n=Count("id"))
        .order_by()
    )
    rejected = (
        RejectedAssignment.objects.filter(first_seen_at__gte=hours[0])
        .annotate(hour=TruncHour("first_seen_at"))
        .values("hour")
        .annotate(n=Count("id"))
        .order_by()
    )
    rows = [{**row, "series": "accepted"} for row in accepted]
    rows += [{**row, "series": "rejected"} for row in rejected]
    return _bucketed(rows, hours, ("accepted", "rejected"))


def oldest_pending_age_seconds(now: datetime) -> float:
    """Age of the oldest message not yet delivered nor dead-lettered (0 when none).

    Includes rows waiting out a retry backoff on purpose: a queue-age figure, not a stuck one.
    """
    oldest = OutboxMessage.objects.filter(status=OutboxMessage.Status.PENDING).aggregate(
        at=Min("created_at")
    )["at"]
    return round((now - oldest).total_seconds(), 3) if oldest else 0.0


def failures_by(field: str) -> list[dict[str, Any]]:
    """Dead letters counted by `field` (message_type, last_error_class), most first."""
    return list(
        OutboxMessage.objects.filter(status=OutboxMessage.Status.FAILED)
        .values(field)
        .annotate(n=Count("id"))
        .order_by("-n", field)
    )


def success_last_hour(now: datetime) -> tuple[int, float | None]:
    """Attempts in the last 60 minutes and the share PEP accepted, in % (None: no attempts).

    One aggregate over the attempt_started_idx range, like the hourly series.
    """
    rows = dict(
        DeliveryAttempt.objects.filter(started_at__gte=now - timedelta(hours=1))
        .values("outcome")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("outcome", "n")
    )
    total = sum(rows.values())
    if not total:
        return 0, None
    delivered = rows.get(DeliveryAttempt.Outcome.DELIVERED, 0)
    return total, round(100 * delivered / total, 1)


def circuit_state() -> str:
    """The worst circuit toward PEP over all endpoints: open > half_open > closed."""
    states = set(EndpointState.objects.values_list("circuit", flat=True).distinct())
    for state in (EndpointState.Circuit.OPEN, EndpointState.Circuit.HALF_OPEN):
        if state in states:
            return str(state)
    return str(EndpointState.Circuit.CLOSED)


def webhooks_per_hour(now: datetime) -> list[HourBucket]:
    """PEP's signed webhook requests accepted per hour (each may carry several events)."""
    hours = hour_starts(now)
    rows = list(
        WebhookDelivery.objects.filter(received_at__gte=hours[0])
        .annotate(hour=TruncHour("received_at"))
        .values("hour")
        .annotate(n=Count("id"))
        .order_by()
    )
    return _bucketed([{**row, "series": "received"} for row in rows], hours, ("received",))


def open_reconciliation_items() -> int:
    """Reconciliation items not yet repaired nor given up (served by the status index)."""
    open_statuses = [*RepairState.NEEDS_VALUE, RepairState.Status.SENT]
    return RepairState.objects.filter(status__in=open_statuses).count()


@dataclass(frozen=True)
class Dashboard:
    figures: dict[str, Any]  # plain JSON types, also served by /healthz
    deliveries: list[HourBucket]
    assignments: list[HourBucket]
    delivery: dict[str, Any]  # events.selectors.delivery_health(): /healthz's "delivery"
    webhooks: list[HourBucket]


def dashboard(now: datetime | None = None) -> Dashboard:
    """Everything the dashboard shows; each query runs once."""
    now = now or timezone.now()
    deliveries = deliveries_per_hour(now)
    assignments = assignments_per_hour(now)
    webhooks = webhooks_per_hour(now)
    # The outbox's own figures, computed once for the dashboard and /healthz alike: the counts
    # and the oldest *due* head (a row in a long retry backoff is not a stuck one).
    health = delivery_health(now)
    attempts_last_hour, success_rate = success_last_hour(now)
    figures = {
        "generated_at": now.isoformat(),
        "pending": health["pending"],
        "failed": health["failed"],
        "oldest_due_age_seconds": health["oldest_due_age_seconds"],
        "oldest_pending_age_seconds": oldest_pending_age_seconds(now),
        "failures_by_message_type": _pairs(failures_by("message_type"), "message_type"),
        "failures_by_error": _pairs(failures_by("last_error_class"), "last_error_class"),
        "deliveries_per_hour": _series(deliveries),
        "assign_bonus_per_hour": _series(assignments),
        "open_reconciliation_items": open_reconciliation_items(),
        "webhooks_per_hour": _series(webhooks),
        "fulfilments_waiting": Fulfilment.objects.filter(status=Fulfilment.Status.PENDING).count(),
        "attempts_last_hour": attempts_last_hour,
        "success_rate_last_hour": success_rate,
        "circuit": circuit_state(),
    }
    return Dashboard(figures, deliveries, assignments, delivery=health, webhooks=webhooks)


def _pairs(rows: list[dict[str, Any]], field: str) -> dict[str, int]:
    return {row[field] or "(none)": row["n"] for row in rows}


def _series(buckets: list[HourBucket]) -> list[dict[str, Any]]:
    return [{"hour": bucket.hour.isoformat(), **bucket.counts} for bucket in buckets]
