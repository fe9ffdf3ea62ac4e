"""Figures read from the database at scrape time: backlogs, circuits, assign-bonus requests.

These describe state every process shares, so they come from the tables rather than from
process counters, and are right whatever process answers the scrape. Each is a bounded query
(a LIMIT, an index range, or the planner's estimate), never a count over the whole outbox, so a
scrape costs the same with a million pending rows (tests/pepbridge/test_metrics_db.py bounds the
query count). docs/operations.md says which figures are estimates.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError, connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bonuses.models import (
    AssignmentConflict,
    AssignmentItem,
    BonusAssignment,
    RejectedAssignment,
)
from bonuses.selectors import limit_refusals
from events import selectors
from events.models import EndpointState, OutboxMessage
from webhooks.models import InboxEvent, WebhookDelivery

Status = OutboxMessage.Status
# Counted exactly up to this many rows; above it the figure is PostgreSQL's planner estimate
# (on SQLite, the bound itself: a lower bound). Reading 10,000 index entries takes a few ms.
EXACT_UP_TO = 10_000
# How many of the longest-due rows are checked for being a player's head (sendable now).
DUE_CANDIDATES = 100
WINDOW = timedelta(hours=1)

logger = logging.getLogger(__name__)


def bounded_count(rows: QuerySet[Any]) -> tuple[int, bool]:
    """Count `rows` up to EXACT_UP_TO; beyond it estimate. Returns (figure, is_estimate)."""
    exact = rows.values("pk")[: EXACT_UP_TO + 1].count()
    if exact <= EXACT_UP_TO:
        return exact, False
    if connection.vendor == "postgresql":
        return max(_planner_estimate(rows), exact), True
    return exact, True


def _planner_estimate(rows: QuerySet[Any]) -> int:
    """PostgreSQL's row estimate for `rows` (from ANALYZE statistics), without running it."""
    plan = json.loads(rows.values("pk").explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


def oldest_due_age(now: datetime) -> float:
    """Seconds the longest-due sendable row (a player's head, not in flight) has waited.

    Only the DUE_CANDIDATES longest-due rows (by the due index) are checked, each by an index
    range over its player's earlier rows, so the cost does not grow with the backlog. If all of
    them wait behind their player's earlier row (in backoff or in flight), the figure is 0: a
    lower bound, and by design those rows wait. Unlike the claim (events.selectors.heads) it
    does not look for a *later* row of the player in flight: that would read all the player's
    rows, and it only differs for a message that arrived late, for at most one lease.
    """
    candidates = (
        OutboxMessage.objects.filter(status=Status.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")
        .values("pk")[:DUE_CANDIDATES]
    )
    earlier = OutboxMessage.objects.filter(
        status=Status.PENDING,
        lane=OuterRef("lane"),
        # A range on outbox_lane_head_idx: only rows up to this one's occurred_at.
        occurred_at__lte=OuterRef("occurred_at"),
    ).filter(Q(occurred_at__lt=OuterRef("occurred_at")) | Q(id__lt=OuterRef("id")))
    oldest = (
        OutboxMessage.objects.filter(pk__in=candidates)
        .filter(selectors.lease_free(now))
        .filter(~Exists(earlier))
        .order_by("next_attempt_at", "id")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    return round((now - oldest).total_seconds(), 3) if oldest else 0.0


def assign_bonus_last_hour(now: datetime) -> dict[str, tuple[int, bool]]:
    """PEP's assign-bonus requests first seen in the last hour, by outcome."""
    since = now - WINDOW
    return {
        # Naming every status lets PostgreSQL use the (status, received_at) index.
        "accepted": bounded_count(
            BonusAssignment.objects.filter(
                status__in=BonusAssignment.Status.values, received_at__gte=since
            )
        ),
        "rejected": bounded_count(RejectedAssignment.objects.filter(first_seen_at__gte=since)),
        # One row per distinct conflicting body: a small table, bounded all the same.
        "conflict": bounded_count(AssignmentConflict.objects.filter(last_seen_at__gte=since)),
    }


def oldest_unprocessed_assignment_age(now: datetime) -> float:
    """Seconds the oldest accepted, not yet processed assign-bonus request has waited."""
    oldest = (
        BonusAssignment.objects.filter(status=BonusAssignment.Status.ACCEPTED)
        .order_by("received_at")
        .values_list("received_at", flat=True)
        .first()
    )
    return round((now - oldest).total_seconds(), 3) if oldest else 0.0


class DatabaseCollector(Collector):
    """Reads the shared state at each scrape (registered per scrape, never globally)."""

    def collect(self) -> Iterator[Metric]:
        """Every database figure, or none and `pepbridge_metrics_database_up 0` on a DB error.

        The figures are read before any is yielded, so a failing query never leaves a scrape
        with half of them; the process metrics beside them are still served.
        """
        started = time.monotonic()
        try:
            now = timezone.now()
            families = [
                *self._outbox(now),
                self._circuits(),
                *self._assignments(now),
                self._webhook_inbox(),
            ]
        except DatabaseError:
            logger.exception("metrics_database_failed")
            families = []
        yield from families
        yield GaugeMetricFamily(
            "pepbridge_metrics_database_up",
            "1 when this scrape could read the database figures, 0 when a query failed.",
            value=int(bool(families)),
        )
        yield GaugeMetricFamily(
            "pepbridge_metrics_database_seconds",
            "How long this scrape took to read the database figures.",
            value=round(time.monotonic() - started, 6),
        )

    def _outbox(self, now: datetime) -> Iterator[Metric]:
        rows = GaugeMetricFamily(
            "pepbridge_outbox_rows",
            "Outbox rows by status: pending (not yet delivered) and failed (dead letters). "
            "Exact up to 10,000, an estimate above (see pepbridge_outbox_rows_estimated).",
            labels=["status"],
        )
        estimated = GaugeMetricFamily(
            "pepbridge_outbox_rows_estimated",
            "1 when pepbridge_outbox_rows of that status is an estimate, 0 when exact.",
            labels=["status"],
        )
        for status in (Status.PENDING, Status.FAILED):
            figure, is_estimate = bounded_count(OutboxMessage.objects.filter(status=status))
            rows.add_metric([status], figure)
            estimated.add_metric([status], int(is_estimate))
        yield rows
        yield estimated
        yield GaugeMetricFamily(
            "pepbridge_outbox_oldest_due_age_seconds",
            "How long the longest-due sendable message (a player's head) has been due.",
            value=oldest_due_age(now),
        )

    def _webhook_inbox(self) -> Metric:
        family = GaugeMetricFamily(
            "pepbridge_webhook_inbox_waiting",
            "PEP webhook work the worker has not done yet: deliveries to split into events "
            "(stage split), events to process (stage process). Exact up to 10,000.",
            labels=["stage"],
        )
        waiting = {
            "split": WebhookDelivery.objects.filter(split_at__isnull=True),
            "process": InboxEvent.objects.filter(status=InboxEvent.Status.PENDING),
        }
        for stage, rows in waiting.items():
            family.add_metric([stage], bounded_count(rows)[0])
        return family

    def _circuits(self) -> Metric:
        family = GaugeMetricFamily(
            "pepbridge_pep_circuit_state",
            "Circuit breaker toward PEP per endpoint: 1 for its current state.",
            labels=["endpoint", "state"],
        )
        for state in EndpointState.objects.order_by("message_type"):
            for circuit in EndpointState.Circuit.values:
                family.add_metric([state.message_type, circuit], int(state.circuit == circuit))
        return family

    def _assignments(self, now: datetime) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "pepbridge_assign_bonus_requests_last_hour",
            "PEP's assign-bonus requests first seen in the last hour, by outcome: accepted "
            "(202), rejected (400), conflict (409, another body under a known requestId).",
            labels=["outcome"],
        )
        for outcome, (figure, _estimate) in assign_bonus_last_hour(now).items():
            family.add_metric([outcome], figure)
        yield family
        refusals = GaugeMetricFamily(
            "pepbridge_bonus_limit_refusals_last_hour",
            "Players refused a grant by a money limit in the last hour, by reason (override "
            "denied, above max, daily caps, daily budget...): alert on any daily_budget.",
            labels=["reason"],
        )
        # Every reason is a series, zero included, so an alert on one of them always evaluates.
        counts = limit_refusals(since=now - WINDOW)
        for reason in sorted(AssignmentItem.LIMIT_REASONS):
            refusals.add_metric([str(reason)], counts.get(reason, 0))
        yield refusals
        yield GaugeMetricFamily(
            "pepbridge_assign_bonus_oldest_unprocessed_age_seconds",
            "How long the oldest accepted assign-bonus request has waited for its grants.",
            value=oldest_unprocessed_assignment_age(now),
        )
