"""The operations dashboard, the staff time zone, and the estimated-count paginator."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from bonuses.models import BonusAssignment
from events.models import DeliveryAttempt, EndpointState, OutboxMessage
from events.selectors import delivery_health
from pepbridge.backoffice.middleware import COOKIE
from pepbridge.backoffice.paginator import EstimatedCountPaginator
from pepbridge.dashboard import selectors
from tests.admin.conftest import make_assignments, make_rejections, outbox_rows

pytestmark = pytest.mark.django_db
DASHBOARD = reverse("backoffice-dashboard")


def test_the_admin_index_links_to_the_dashboard(support) -> None:
    assert DASHBOARD.encode() in support.get(reverse("admin:index")).content


def test_the_dashboard_shows_counts_failures_and_charts(support) -> None:
    outbox_rows(2, status="failed", message_type="money_transaction")
    outbox_rows(1, status="pending")
    make_assignments(2)
    make_rejections(1)
    response = support.get(DASHBOARD)
    assert response.status_code == 200
    figures = response.context["figures"]
    assert (figures["pending"], figures["failed"]) == (1, 2)
    assert figures["failures_by_message_type"] == {"money_transaction": 2}
    assert figures["failures_by_error"] == {"http_400": 2}
    assert figures["open_reconciliation_items"] == 0
    body = response.content.decode()
    assert body.count('<rect class="failed"') == 1  # the current hour's bar
    assert 'id="bo-assign-chart"' in body
    assert "<script" not in body.split('id="content-main"')[1]  # server-side chart, no JS


def test_the_dashboard_shows_the_oldest_due_message_not_one_in_backoff(support) -> None:
    now = timezone.now()
    # Created 8 hours ago and waiting out its retry backoff: pending, but nothing is stuck.
    outbox_rows(1, status="pending", player="p-backoff", next_attempt_at=now + timedelta(hours=1))
    OutboxMessage.objects.update(created_at=now - timedelta(hours=8))
    # Due for 90 s and not sent: this is what a stuck delivery looks like.
    outbox_rows(1, status="pending", player="p-due", next_attempt_at=now - timedelta(seconds=90))
    response = support.get(DASHBOARD)
    figures = response.context["figures"]
    assert 89 <= figures["oldest_due_age_seconds"] <= 120
    assert figures["oldest_pending_age_seconds"] >= 8 * 3600  # kept as a second figure
    body = response.content.decode()
    due_card = body.split('id="bo-oldest-due">')[1].split("</div>")[0]
    assert due_card.strip() in {f"{n} s" for n in range(89, 121)}
    assert "Oldest due message" in body


def test_the_oldest_due_figure_is_the_one_healthz_reports() -> None:
    now = timezone.now()
    outbox_rows(1, status="pending", player="p-1", next_attempt_at=now - timedelta(seconds=30))
    outbox_rows(1, status="pending", player="p-2", next_attempt_at=now + timedelta(hours=8))
    figures = selectors.dashboard(now).figures
    expected = delivery_health(now)["oldest_due_age_seconds"]
    assert figures["oldest_due_age_seconds"] == expected == 30.0


def test_the_dashboard_is_for_staff_only(client, db) -> None:
    response = client.get(DASHBOARD)
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def dashboard_queries(support, rows: int) -> int:
    outbox_rows(rows)
    make_assignments(rows)
    with CaptureQueriesContext(connection) as queries:
        assert support.get(DASHBOARD).status_code == 200
    return len(queries)


def test_the_dashboard_query_count_does_not_grow_with_rows(support) -> None:
    few = dashboard_queries(support, 5)
    many = dashboard_queries(support, 50)
    assert many == few
    assert few <= 25  # each block is one or two aggregate queries, whatever the data


def test_hourly_series_bucket_by_hour_and_outcome() -> None:
    now = timezone.now()
    (row,) = outbox_rows(1, status="failed")
    DeliveryAttempt.objects.create(
        message=row,
        started_at=now - timedelta(hours=3),
        duration_ms=5,
        outcome="delivered",
        trigger="scheduled",
    )
    DeliveryAttempt.objects.create(
        message=row,
        started_at=now - timedelta(hours=30),
        duration_ms=5,
        outcome="delivered",
        trigger="scheduled",
    )
    buckets = selectors.deliveries_per_hour(now)
    assert len(buckets) == 24
    assert buckets[-1].counts == {"delivered": 0, "retry": 0, "failed": 1}
    assert buckets[-4].counts["delivered"] == 1
    assert sum(bucket.total for bucket in buckets) == 2  # the one 30 hours ago is left out


def test_assign_bonus_series_counts_accepted_and_rejected() -> None:
    make_assignments(3)
    make_rejections(1)
    BonusAssignment.objects.filter(request_id="req-0").update(
        received_at=timezone.now() - timedelta(days=2)
    )
    buckets = selectors.assignments_per_hour(timezone.now())
    assert buckets[-1].counts == {"accepted": 2, "rejected": 1}


def test_the_circuit_state_is_the_worst_endpoint() -> None:
    assert selectors.circuit_state() == "closed"
    EndpointState.objects.create(message_type="a", circuit="half_open")
    assert selectors.circuit_state() == "half_open"
    EndpointState.objects.create(message_type="b", circuit="open")
    assert selectors.circuit_state() == "open"


def test_a_chosen_time_zone_is_kept_and_used(support) -> None:
    response = support.post(
        reverse("backoffice-time-zone"), {"zone": "Europe/Zurich", "next": DASHBOARD}
    )
    assert response.status_code == 302
    assert response["Location"] == DASHBOARD
    assert response.cookies[COOKIE].value == "Europe/Zurich"
    page = support.get(DASHBOARD)
    assert "Europe/Zurich" in page.content.decode()


def test_an_unknown_time_zone_is_refused(support) -> None:
    response = support.post(reverse("backoffice-time-zone"), {"zone": "Mars/Olympus"})
    assert COOKIE not in response.cookies
    support.cookies[COOKIE] = "Not/AZone"  # a forged cookie is ignored, not an error
    assert support.get(DASHBOARD).status_code == 200


def test_the_time_zone_picker_does_not_redirect_off_site(support) -> None:
    response = support.post(
        reverse("backoffice-time-zone"), {"zone": "UTC", "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("admin:index")


def test_the_paginator_counts_exactly_off_postgresql() -> None:
    outbox_rows(3)
    assert EstimatedCountPaginator(OutboxMessage.objects.order_by("id"), 2).count == 3


def test_the_paginator_uses_the_estimate_for_a_big_unfiltered_table() -> None:
    paginator = EstimatedCountPaginator(OutboxMessage.objects.order_by("id"), 50)
    with mock.patch.object(EstimatedCountPaginator, "_estimate", return_value=2_000_000):
        assert paginator.count == 2_000_000
    filtered = EstimatedCountPaginator(
        OutboxMessage.objects.filter(status="failed").order_by("id"), 50
    )
    assert filtered._estimate() is None  # filtered lists are counted exactly
