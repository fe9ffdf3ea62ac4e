"""The dashboard's charts carry their values and scale to the screen; the last hour's success."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from events.models import DeliveryAttempt
from tests.admin.conftest import outbox_rows

pytestmark = pytest.mark.django_db
DASHBOARD = reverse("backoffice-dashboard")


def chart(body: str, chart_id: str) -> str:
    start = body.index(f'id="{chart_id}"')
    return body[start : body.index("</figure>", start)]


def test_the_charts_scale_to_the_screen_and_show_a_y_axis_and_values(support) -> None:
    outbox_rows(3, status="delivered")
    outbox_rows(1, status="failed", player="p-2")
    body = support.get(DASHBOARD).content.decode()
    svg = chart(body, "bo-deliveries-chart")
    tag = re.search(r"<svg[^>]*>", svg).group(0)
    assert 'width="100%"' in tag and "viewBox=" in tag
    assert not re.search(r'\swidth="\d+"', tag) and not re.search(r'\sheight="\d+"', tag)
    axis = re.findall(r'text-anchor="end">(\d+)</text>', svg)
    assert sorted(map(int, axis)) == [0, 2, 4]  # gridlines at 0, half the peak, the peak
    assert '<text class="bo-value"' in svg and ">4</text>" in svg  # the current hour's total


def test_the_dashboard_shows_the_success_rate_of_the_last_hour(support) -> None:
    outbox_rows(3, status="delivered")
    outbox_rows(1, status="failed", player="p-2")
    (old,) = outbox_rows(1, status="failed", player="p-3")
    DeliveryAttempt.objects.filter(message=old).update(
        started_at=timezone.now() - timedelta(hours=2)
    )
    response = support.get(DASHBOARD)
    figures = response.context["figures"]
    assert (figures["attempts_last_hour"], figures["success_rate_last_hour"]) == (4, 75.0)
    assert "75.0 %" in response.content.decode()


def test_without_attempts_the_rate_says_so(support) -> None:
    body = support.get(DASHBOARD).content.decode()
    assert 'id="bo-success-rate">no attempts<' in body


def test_the_dashboard_time_is_in_the_staff_members_zone_with_seconds(support) -> None:
    support.cookies["pepbridge_tz"] = "Asia/Tokyo"
    body = support.get(DASHBOARD).content.decode()
    assert re.search(r'id="bo-generated-at">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d JST<', body)
