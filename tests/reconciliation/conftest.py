"""Fixtures of the reconciliation tests: PEP's API client, players, staff, and trail readers."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from rest_framework.test import APIClient

from pepbridge.api.models import Scope
from pepbridge.api.services import api_key_create
from players.services import player_create
from reconciliation.models import AuditStep, RepairState

RECON_URL = "/api/reconciliation/v1/players"
FEEDBACK_URL = "/api/players/v1/migration/feedback"


@pytest.fixture
def pep_client(db: None) -> APIClient:
    """An API client authenticated as PEP with an API key of scope "pep"."""
    issued = api_key_create(name="PEP production", scope=Scope.PEP)
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=issued.api_key)
    client.label = f"PEP production (apikey:{issued.key_id})"  # type: ignore[attr-defined]
    return client


def make_player(player_id: str = "p-1", **fields: Any) -> None:
    """Register a player with the bridge (its messages go to the outbox)."""
    data: dict[str, Any] = {
        "player_id": player_id,
        "first_name": "Anna",
        "country": "CH",
        "birth_date": date(1990, 4, 1),
        "registration_date": datetime(2024, 3, 1, 10, 15, tzinfo=UTC),
    }
    data.update(fields)
    player_create(data=data)


def recon_body(request_id: str = "r-1", **players: list[str]) -> dict[str, Any]:
    """A reconciliation request: recon_body("r-1", **{"p-1": ["email"]})."""
    return {
        "requestId": request_id,
        "eventDate": "2026-05-01T12:00:00.000Z",
        "players": [{"playerId": pid, "missingFields": names} for pid, names in players.items()],
    }


def steps_of(player_id: str, field: str | None = None) -> list[str]:
    """The item steps of a player (optionally one field), oldest first, as kind names."""
    steps = AuditStep.objects.filter(player_id=player_id).order_by("at", "id")
    if field is not None:
        steps = steps.filter(field=field)
    return list(steps.values_list("kind", flat=True))


def status_of(player_id: str, field: str) -> str:
    return RepairState.objects.get(player_id=player_id, field=field).status


@pytest.fixture
def staff_exporter(db: None) -> User:
    user = User.objects.create_user("officer", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="export_audit"))
    return user
