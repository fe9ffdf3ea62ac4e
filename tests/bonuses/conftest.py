"""Builders for the bonus tests: catalogue entries, players and a PEP-authenticated client."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from bonuses.models import Bonus, BonusType
from bonuses.services import KICK_KEY
from pepbridge.api.services import api_key_create
from players.models import Player


@pytest.fixture(autouse=True)
def _no_kick_left_over() -> None:
    """The grant kick's debounce key lives in the process cache: start each test without it."""
    cache.delete(KICK_KEY)


@pytest.fixture
def make_bonus(db: None) -> Callable[..., Bonus]:
    """Insert a catalogue bonus directly (no outbox row), so tests see only what they cause."""

    def make(bonus_id: str = "WELCOME-10", **fields: Any) -> Bonus:
        values: dict[str, Any] = {
            "name": "Welcome 10",
            "bonus_type": BonusType.CASH,
            "amount": Decimal("10"),
            "currency": "EUR",
        }
        values.update(fields)
        return Bonus.objects.create(bonus_id=bonus_id, **values)

    return make


@pytest.fixture
def make_player(db: None) -> Callable[..., Player]:
    def make(player_id: str = "p-1", **fields: Any) -> Player:
        return Player.objects.create(player_id=player_id, **fields)

    return make


def pep_api_client(name: str = "PEP", scope: str = "pep") -> APIClient:
    """A client sending a fresh API key in x-authorization, as PEP's API-key method does."""
    client = APIClient()
    client.credentials(HTTP_X_AUTHORIZATION=api_key_create(name=name, scope=scope).api_key)
    return client


@pytest.fixture
def pep_client(db: None) -> APIClient:
    """An API client authenticated as PEP (scope "pep")."""
    return pep_api_client()
