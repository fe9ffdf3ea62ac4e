"""Concurrent copies on PostgreSQL: one event row, one processing, one grant per purchase."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from bonuses.models import Bonus, BonusType, PlayerBonus
from players.models import Player
from tests.webhooks.conftest import URL, event, item, signed_headers, split_all
from webhooks.models import Fulfilment, InboxEvent, ProductMapping, WebhookDelivery
from webhooks.processing import inbox_event_process, inbox_process_pending

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _all_at_once(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run `work` in `count` threads released together; each thread closes its connection."""
    barrier = threading.Barrier(count)

    def run(n: int) -> Any:
        try:
            barrier.wait()
            return work(n)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return [future.result() for future in [pool.submit(run, n) for n in range(count)]]


def purchase(order: str) -> dict[str, Any]:
    return event(
        "product_purchase", "p-1", items=(item("ProductId", "coins"), item("PurchaseId", order))
    )


@pytest.fixture
def mapped() -> None:
    Player.objects.create(player_id="p-1")
    bonus = Bonus.objects.create(
        bonus_id="COINS",
        name="Coins",
        bonus_type=BonusType.CASH,
        amount=Decimal("5"),
        currency="EUR",
    )
    ProductMapping.objects.create(pep_product_id="coins", bonus=bonus)


def test_the_same_event_in_ten_requests_at_once_is_stored_once(mapped: None) -> None:
    def post(n: int) -> int:
        body = json.dumps({"events": [purchase("order-1")], "copy": n}).encode()
        stamp = str(int(time.time()))
        return (
            Client()
            .post(
                URL,
                data=body,
                content_type="application/json",
                **signed_headers(body, timestamp=stamp),
            )
            .status_code
        )

    assert set(_all_at_once(10, post)) == {202}
    assert WebhookDelivery.objects.count() == 10

    # Four workers split at once: each delivery once (SKIP LOCKED), the event stored once.
    assert sum(_all_at_once(4, lambda n: split_all())) == 10
    assert InboxEvent.objects.count() == 1
    assert not WebhookDelivery.objects.filter(split_at__isnull=True).exists()


def test_two_workers_on_the_same_events_grant_each_purchase_once(mapped: None) -> None:
    events = [purchase(f"order-{n}") for n in range(5)]
    events += [purchase("order-0") | {"eventDate": "2026-12-03T09:30:00Z"}]  # a copy
    body = json.dumps({"events": events}).encode()
    assert (
        Client()
        .post(URL, data=body, content_type="application/json", **signed_headers(body))
        .status_code
        == 202
    )
    split_all()
    ids = list(InboxEvent.objects.values_list("pk", flat=True))

    def work(n: int) -> int:
        if n % 2:
            return inbox_process_pending(max_seconds=30)
        return sum(1 for pk in ids if inbox_event_process(event_id=pk) == "processed")

    _all_at_once(4, work)

    assert not InboxEvent.objects.exclude(status="processed").exists()
    assert Fulfilment.objects.filter(status="done").count() == 5
    assert PlayerBonus.objects.count() == 5
