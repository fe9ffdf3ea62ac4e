"""Builders for player tests: a validated player dict and a way to read what went to the outbox."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest

from events.models import OutboxMessage


def player_data(player_id: str = "p-1", **overrides: Any) -> dict[str, Any]:
    """What PlayerSerializer.validated_data looks like for a typical new player."""
    data: dict[str, Any] = {
        "player_id": player_id,
        "username": "anna",
        "first_name": "Anna",
        "last_name": "Muster",
        "email": "anna@example.com",
        "phone": "+41791234567",
        "birth_date": date(1990, 4, 1),
        "country": "CH",
        "currency": "CHF",
        "registration_date": datetime(2024, 3, 1, 10, 15, tzinfo=UTC),
        "registration_device": "mobile",
    }
    data.update(overrides)
    return data


def outbox(message_type: str | None = None) -> list[dict[str, Any]]:
    """The queued messages, oldest first, as {type, path, body} with the body decoded."""
    rows = OutboxMessage.objects.order_by("pk")
    if message_type:
        rows = rows.filter(message_type=message_type)
    return [
        {
            "type": row.message_type,
            "path": row.path,
            "body": json.loads(row.body) if row.body else None,
        }
        for row in rows
    ]


class HookCalls(list):
    """(player id, changed names) per call; `causes` holds each call's way in, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.causes: list[str | None] = []


@pytest.fixture
def hooks():
    """Record calls to players.services.on_player_changed for the test, then remove the hook."""
    from players import services

    calls = HookCalls()

    def hook(player, changed, *, cause=None):
        calls.append((player.player_id, changed))
        calls.causes.append(cause)

    services.on_player_changed.append(hook)
    yield calls
    services.on_player_changed.remove(hook)
