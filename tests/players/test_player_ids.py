"""A player id must be a safe URL path segment at every way in (one validator, everywhere)."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from bonuses.models import BonusAssignment, RejectedAssignment
from players.models import Player
from players.validators import validate_player_id
from reconciliation.models import ReconciliationItem
from tests.admin.conftest import make_bonus
from tests.players.api_helpers import client_with_scope

pytestmark = pytest.mark.django_db

UNSAFE = [
    ".",
    "..",
    "...",
    "a/b",
    "a\\b",
    "a?b",
    "a#b",
    "50%",
    "a;b",
    "a b",
    "a\x00b",
    "a\u2028b",
    "a\x1fb",
    "a\u200bb",
    "a\u202eb",
    "a\x9bb",
]
SAFE = ["p-1", ".a", "a.b", "a..", "user@brand", "Zoë_7"]


def post(api, url: str, body: object):
    return api.post(url, data=json.dumps(body), content_type="application/json")


@pytest.mark.parametrize("player_id", UNSAFE)
def test_the_validator_refuses_what_is_not_a_safe_path_segment(player_id: str) -> None:
    with pytest.raises(ValidationError):
        validate_player_id(player_id)


@pytest.mark.parametrize("player_id", SAFE)
def test_the_validator_accepts_ordinary_ids(player_id: str) -> None:
    validate_player_id(player_id)


def test_a_long_run_of_dots_is_refused_in_linear_time() -> None:
    with pytest.raises(ValidationError):
        validate_player_id("." * 1_000_000 + "/")  # one pass: no backtracking blow-up


@pytest.mark.parametrize("player_id", UNSAFE)
def test_the_ingestion_api_refuses_it(player_id: str) -> None:
    api = client_with_scope("ingest")
    answer = post(api, "/ingest/v1/players", {"playerId": player_id, "country": "CH"})
    assert answer.status_code == 400
    # A NUL is refused by the shared JSON parser before any field is read.
    expected = "NUL" if "\x00" in player_id else "playerId"
    assert expected in answer.content.decode()
    assert not Player.objects.exists()


@pytest.mark.parametrize("player_id", ["..", "a;b"])
def test_the_ingestion_events_refuse_it(player_id: str) -> None:
    Player.objects.create(player_id=player_id)  # a row written before ids were checked
    api = client_with_scope("ingest")
    event = {
        "type": "money_transaction",
        "playerId": player_id,
        "transactionId": "d-1",
        "transactionType": "DEPOSIT",
        "transactionStatus": "APPROVED",
        "amount": 1,
        "currency": "EUR",
        "date": "2024-05-02T07:55:00Z",
        "realMoneyBalance": 1,
        "bonusMoneyBalance": 0,
    }
    answer = post(api, "/ingest/v1/events", event)
    assert answer.status_code == 400
    assert "playerId" in answer.content.decode()


def test_the_jsonl_loader_refuses_it(tmp_path) -> None:
    path = tmp_path / "players.jsonl"
    path.write_text('{"playerId": ".."}\n{"playerId": "p-1"}\n')
    out = StringIO()
    call_command("load_players", str(path), "--no-pep", "--no-progress", stdout=out)
    assert "line 1: rejected" in out.getvalue()
    assert list(Player.objects.values_list("player_id", flat=True)) == ["p-1"]


@pytest.mark.parametrize(
    "players", [{"playerId": ".."}, {"playerIds": ["p-1", "a/b"]}, {"playerId": "."}]
)
def test_assign_bonus_refuses_it(players: dict[str, object]) -> None:
    make_bonus("B")
    body = {"requestId": "r-1", "eventDate": "2026-01-01T00:00:00Z", "bonusId": "B", **players}
    answer = post(client_with_scope("pep"), "/api/bonus/v1/assign-bonus", body)
    assert answer.status_code == 400
    assert "playerId" in answer.content.decode()
    assert not BonusAssignment.objects.exists()
    assert RejectedAssignment.objects.count() <= 1  # recorded as refused, if at all


def test_reconciliation_refuses_it() -> None:
    body = {
        "requestId": "r-1",
        "eventDate": "2026-01-01T00:00:00Z",
        "players": [{"playerId": "..", "missingFields": ["email"]}],
    }
    answer = post(client_with_scope("pep"), "/api/reconciliation/v1/players", body)
    assert answer.status_code == 400
    assert not ReconciliationItem.objects.exists()
