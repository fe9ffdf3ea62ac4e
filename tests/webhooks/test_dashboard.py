"""The operations dashboard counts PEP's webhook requests per hour and the purchases to fulfil."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from pepbridge.dashboard import selectors
from tests.webhooks.conftest import event, item, level_up
from webhooks.processing import inbox_process_pending


def test_the_dashboard_counts_webhook_requests_and_purchases_waiting(post_events: Any) -> None:
    assert post_events([level_up("p-1")]).status_code == 202
    purchase = event("product_purchase", "p-1", items=(item("ProductId", "unmapped"),))
    assert post_events([purchase]).status_code == 202
    inbox_process_pending(max_seconds=30)

    figures = selectors.dashboard().figures
    assert figures["fulfilments_waiting"] == 1  # no mapping for the product yet
    assert sum(hour["received"] for hour in figures["webhooks_per_hour"]) == 2

    staff = Client()
    staff.force_login(get_user_model().objects.create_superuser("root", password="pw"))
    page = staff.get(reverse("backoffice-dashboard")).content.decode()
    assert 'id="bo-webhooks-chart"' in page
    assert "?status__exact=pending" in page and "Purchases to fulfil" in page
