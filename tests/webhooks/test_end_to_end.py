"""200 signed events of every kind, 30 % sent twice, many out of order, in requests of 10:
each stored once, snapshots end at the newest values, every purchase granted exactly once."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from bonuses.models import Bonus, BonusType, PlayerBonus
from players.models import Player
from tests.webhooks.conftest import URL, event, item, signed_headers
from webhooks.models import Fulfilment, InboxEvent, LoyaltySnapshot, ProductMapping, TokenBalance
from webhooks.processing import inbox_process_pending

pytestmark = pytest.mark.django_db
PLAYERS = [f"e2e-{n}" for n in range(10)]
START = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


def at(minutes: int) -> str:
    return (START + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def unique_events() -> list[dict[str, Any]]:
    """Per player: 8 level-ups, 6 wallet updates, 2 purchases, 4 unknown events (200 in all)."""
    events = []
    for n, player in enumerate(PLAYERS):
        for step in range(8):
            items = (
                item("CurrentLevel", str(step + 1), "number"),
                item("XpBalance", str((step + 1) * 100), "number"),
            )
            events.append(event("level_up", player, at(step * 10), items))
        for step in range(6):
            balance = item("Balance", str(step * 5), "number")
            events.append(
                event("virtualCurrency_on_walletUpdate", player, at(step * 7), (balance,))
            )
        for step in range(2):
            items = (item("ProductId", "coins-10"), item("PurchaseId", f"order-{n}-{step}"))
            events.append(event("product_purchase", player, at(step), items))
        for step in range(4):
            events.append(event("mission_complete", player, at(step), (item("Step", str(step)),)))
    return events


def send(client: Client, batch: list[dict[str, Any]]) -> None:
    body = json.dumps({"events": batch}).encode()
    answer = client.post(URL, data=body, content_type="application/json", **signed_headers(body))
    assert answer.status_code == 202, answer.content


def test_two_hundred_events_with_copies_and_disorder() -> None:
    rng = random.Random(12)
    for player in PLAYERS:
        Player.objects.create(player_id=player)
    bonus = Bonus.objects.create(
        bonus_id="COINS-10",
        name="Coins",
        bonus_type=BonusType.CASH,
        amount=Decimal("10"),
        currency="EUR",
    )
    ProductMapping.objects.create(pep_product_id="coins-10", bonus=bonus)
    events = unique_events()
    assert len(events) == 200
    stream = events + rng.sample(events, 60)  # 30 % sent twice
    rng.shuffle(stream)  # out of order: newer levels and balances often arrive first

    client = Client()
    for start in range(0, len(stream), 10):
        send(client, stream[start : start + 10])
        if start % 40 == 0:  # the worker runs between some requests, not after each
            inbox_process_pending(max_seconds=30)
    inbox_process_pending(max_seconds=30)

    assert InboxEvent.objects.count() == 200
    assert not InboxEvent.objects.filter(status__in=["pending", "failed"]).exists()
    assert InboxEvent.objects.filter(duplicate_count__gt=0).count() == 60
    for player in PLAYERS:
        snap = LoyaltySnapshot.objects.get(player_ref=player)
        assert (snap.level, snap.xp) == (8, Decimal("800")), player
        assert TokenBalance.objects.get(player_ref=player).balance == Decimal("25"), player
    assert Fulfilment.objects.filter(status=Fulfilment.Status.DONE).count() == 20
    assert PlayerBonus.objects.count() == 20
    assert set(PlayerBonus.objects.values_list("player__player_id", flat=True)) == set(PLAYERS)
