"""Builders for the back-office tests: staff in each group, outbox rows, players, bonuses."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from bonuses.models import Bonus, BonusAssignment, BonusType, PlayerBonus, RejectedAssignment
from events import lanes
from events.models import DeliveryAttempt, OutboxMessage
from players.models import Player

GROUPS = ("Support", "Bonus managers", "Compliance", "Admins")


@pytest.fixture
def staff_client(db: None) -> Callable[[str], Client]:
    """A logged-in client for a staff member of the named group (created by the migration)."""

    def make(group: str) -> Client:
        username = group.lower().replace(" ", "-")
        user = get_user_model().objects.create_user(username, password="pw", is_staff=True)
        user.groups.add(Group.objects.get(name=group))
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def support(staff_client: Callable[[str], Client]) -> Client:
    return staff_client("Support")


def outbox_rows(
    count: int,
    *,
    status: str = "failed",
    message_type: str = "game_round",
    player: str = "p-1",
    **fields: Any,
) -> list[OutboxMessage]:
    """Insert `count` outbox rows directly (bulk), each with one delivery attempt."""
    now = timezone.now()
    fields.setdefault("lane", player)  # as enqueue() sets it for a message to PEP
    rows = OutboxMessage.objects.bulk_create(
        OutboxMessage(
            message_type=message_type,
            method="POST",
            path=f"/rx-api/test/{message_type}",
            body=f'{{"playerId":"{player}","seq":{index}}}',
            fingerprint="f" * 64,
            player_id=player,
            occurred_at=now - timedelta(minutes=count - index),
            status=status,
            attempts=1,
            failed_at=now if status == "failed" else None,
            delivered_at=now if status == "delivered" else None,
            last_status_code=400 if status == "failed" else None,
            last_error_class="http_400" if status == "failed" else "",
            last_error="bad request" if status == "failed" else "",
            **fields,
        )
        for index in range(count)
    )
    outcome = {"failed": "failed", "delivered": "delivered"}.get(status, "retry")
    DeliveryAttempt.objects.bulk_create(
        DeliveryAttempt(
            message=row,
            started_at=now,
            duration_ms=12,
            status_code=row.last_status_code,
            outcome=outcome,
            error_class=row.last_error_class,
            trigger="scheduled",
        )
        for row in rows
    )
    if status == "pending":  # as enqueue() would: the player's lane (events/lanes.py)
        lanes.touch([player], due=min(row.next_attempt_at for row in rows))
    return rows


def make_players(count: int, prefix: str = "p") -> list[Player]:
    return Player.objects.bulk_create(
        Player(
            player_id=f"{prefix}-{index}",
            username=f"user{index}",
            email=f"user{index}@example.com",
            first_name="Anna",
            country="CH",
        )
        for index in range(count)
    )


def make_bonus(bonus_id: str = "WELCOME-10", **fields: Any) -> Bonus:
    values: dict[str, Any] = {
        "name": "Welcome 10",
        "bonus_type": BonusType.CASH,
        "amount": Decimal("10"),
        "currency": "EUR",
    }
    values.update(fields)
    return Bonus.objects.create(bonus_id=bonus_id, **values)


def make_player_bonuses(count: int) -> list[PlayerBonus]:
    bonus = Bonus.objects.first() or make_bonus()
    players = make_players(count, prefix=f"pb{PlayerBonus.objects.count()}")
    return PlayerBonus.objects.bulk_create(
        PlayerBonus(player=player, bonus=bonus, amount=Decimal(10), currency="EUR")
        for player in players
    )


def make_assignments(count: int) -> list[BonusAssignment]:
    bonus = Bonus.objects.first() or make_bonus()
    start = BonusAssignment.objects.count()
    return BonusAssignment.objects.bulk_create(
        BonusAssignment(
            client_key="pep",
            request_id=f"req-{start + index}",
            fingerprint="a" * 64,
            body={"requestId": f"req-{index}"},
            event_date=timezone.now(),
            bonus=bonus,
        )
        for index in range(count)
    )


def make_rejections(count: int) -> list[RejectedAssignment]:
    start = RejectedAssignment.objects.count()
    return RejectedAssignment.objects.bulk_create(
        RejectedAssignment(
            client_key="pep",
            request_id=f"bad-{start + index}",
            fingerprint="b" * 64,
            body={"bonusId": "NOPE"},
            errors={"bonusId": ["unknown bonus"]},
        )
        for index in range(count)
    )
