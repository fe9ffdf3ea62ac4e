"""Builders for the webhook tests: PEP-signed requests, events, and a settings preset."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client, override_settings

from bonuses.models import Bonus, BonusType
from events.services.subscriptions import subscription_create
from players.models import Player
from webhooks.intake import KICK_KEY
from webhooks.models import ProductMapping, RewardsCursor
from webhooks.processing import inbox_process_pending
from webhooks.security import sign
from webhooks.splitting import deliveries_split

KEY = "whsec-test-key-1"
OLD_KEY = "whsec-test-key-0"
URL = "/api/webhooks/v1/pep-events"


@pytest.fixture(autouse=True)
def _webhook_settings(settings: Any) -> None:
    settings.PEP_WEBHOOK_SECRETS = [KEY]
    settings.PEP_WEBHOOK_ALLOWED_IPS = []
    settings.PEP_WEBHOOK_TRUSTED_PROXIES = []
    cache.delete(KICK_KEY)


def item(key: str, value: Any, kind: str = "string") -> dict[str, Any]:
    return {"key": key, "type": kind, "value": value}


def event(
    name: str, player: str = "p-1", date: str = "2026-12-03T09:00:00Z", items: tuple = ()
) -> dict[str, Any]:
    """One event as PEP sends it: PlayerId first, then `items`."""
    return {"eventName": name, "payload": [item("PlayerId", player), *items], "eventDate": date}


def level_up(player: str = "p-1", level: int = 9, date: str = "2026-12-03T09:00:00Z") -> dict:
    return event(
        "level_up",
        player,
        date,
        (
            item("CurrentLevel", str(level), "number"),
            item("XpBalance", str(level * 100), "number"),
            item("CurrentRankExternalName", "Gold"),
        ),
    )


def signed_headers(body: bytes, key: str = KEY, timestamp: str | None = None) -> dict[str, str]:
    stamp = timestamp if timestamp is not None else str(int(time.time()))
    return {
        "HTTP_X_GMZ_PEP_WEBHOOK_TIMESTAMP": stamp,
        "HTTP_X_GMZ_PEP_WEBHOOK_SIGNATURE": sign(key, stamp, body),
    }


def split_all() -> int:
    """What the worker's pass does first: the stored requests' events into the inbox."""
    total = 0
    while split := deliveries_split():
        total += split
    return total


@pytest.fixture
def post_events(db: None) -> Callable[..., Any]:
    """POST events as PEP would: JSON body, signed; extra keyword arguments go to the client."""
    client = Client()

    def post(events: list[dict] | None = None, *, body: bytes | None = None, **extra: Any) -> Any:
        raw = body if body is not None else json.dumps({"events": events}).encode()
        headers = {**signed_headers(raw), **extra}
        return client.post(URL, data=raw, content_type="application/json", **headers)

    return post


def make_webhook_rows() -> None:
    """One of each webhook row (delivery, events, snapshots, mapping, fulfilment), for admin
    page tests: the events are posted signed and processed as in production, and forwarded to
    a subscription."""
    subscription_create(name="wh-crm", url="https://crm.test/pep", event_types=[])
    Player.objects.get_or_create(player_id="wh-1")
    bonus = Bonus.objects.create(
        bonus_id="WH-SHOP", name="Shop", bonus_type=BonusType.CASH, amount=1, currency="EUR"
    )
    ProductMapping.objects.create(pep_product_id="wh-prod", bonus=bonus)
    events = [
        level_up("wh-1"),
        event("virtualCurrency_on_walletUpdate", "wh-1", items=(item("Balance", "5", "number"),)),
        event("product_purchase", "wh-1", items=(item("ProductId", "wh-prod"),)),
    ]
    body = json.dumps({"events": events}).encode()
    with override_settings(PEP_WEBHOOK_SECRETS=[KEY]):
        answer = Client().post(
            URL, data=body, content_type="application/json", **signed_headers(body)
        )
    assert answer.status_code == 202, answer.content
    inbox_process_pending(max_seconds=30)
    RewardsCursor.objects.get_or_create(name="rewards", defaults={"delta": "2026-12-01T00:00:00Z"})
