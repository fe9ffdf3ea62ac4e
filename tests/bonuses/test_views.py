"""assign-bonus and the bonus list over DRF: each success, each error, each idempotency case."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from bonuses import services
from bonuses.models import (
    AssignmentConflict,
    AssignmentItem,
    Bonus,
    BonusAssignment,
    PlayerBonus,
    RejectedAssignment,
)
from events.models import OutboxMessage
from pepbridge.api.services import api_key_create
from tests.bonuses.conftest import pep_api_client

pytestmark = pytest.mark.django_db

ASSIGN = "/api/bonus/v1/assign-bonus"
LIST = "/api/bonus/v1/bonuses"


def _body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "requestId": "r-1",
        "eventDate": "2026-05-01T12:00:00.000Z",
        "playerId": "p-1",
        "bonusOfferId": "WELCOME-10",
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not None}


def _post_raw(client: APIClient, raw: str) -> Any:
    return client.generic("POST", ASSIGN, raw, content_type="application/json")


def _post(client: APIClient, **overrides: Any) -> Any:
    return _post_raw(client, json.dumps(_body(**overrides)))


def _process_all() -> None:
    for pk in BonusAssignment.objects.values_list("pk", flat=True):
        services.assignment_process(assignment_id=pk)


@pytest.fixture
def catalogue(make_bonus, make_player) -> None:
    make_bonus()
    make_player("p-1")


# --- assign-bonus: success ------------------------------------------------------------------


def test_it_returns_202_and_stores_the_request(pep_client, catalogue) -> None:
    response = _post(pep_client)
    assert response.status_code == 202
    assert response.json() == {"requestId": "r-1", "status": "accepted"}
    assignment = BonusAssignment.objects.get()
    assert assignment.status == "accepted"
    assert assignment.player_ids == ["p-1"]
    assert not PlayerBonus.objects.exists()  # granted later, by the worker


def test_it_accepts_bonus_id_and_a_list_of_players(pep_client, catalogue, make_player) -> None:
    make_player("p-2")
    response = _post(
        pep_client,
        bonusOfferId=None,
        bonusId="WELCOME-10",
        playerId=None,
        playerIds=["p-1", "p-2", "p-1"],
    )
    assert response.status_code == 202
    assert BonusAssignment.objects.get().player_ids == ["p-1", "p-2"]


def test_it_accepts_amount_currency_source_and_metadata(pep_client, catalogue) -> None:
    Bonus.objects.update(amount_override_allowed=True)
    response = _post(
        pep_client, amount=12.5, currency="EUR", source="mission", metadata={"missionId": "m-7"}
    )
    assert response.status_code == 202
    assignment = BonusAssignment.objects.get()
    assert (assignment.amount, assignment.source) == (Decimal("12.5"), "mission")


def test_it_queues_a_grant_pass_after_commit_and_one_for_a_burst(
    pep_client, catalogue, django_capture_on_commit_callbacks, monkeypatch, settings
) -> None:
    settings.BONUS_GRANT_KICK_DEBOUNCE = 60
    calls = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **kw: calls.append(a))
    with django_capture_on_commit_callbacks(execute=True):
        _post(pep_client, requestId="r-1")
        _post(pep_client, requestId="r-2")
    assert calls == [("bonuses.tasks.assignment_process_pending_task",)]


def test_it_queues_a_pass_per_request_without_debounce(
    pep_client, catalogue, django_capture_on_commit_callbacks, monkeypatch, settings
) -> None:
    settings.BONUS_GRANT_KICK_DEBOUNCE = 0
    calls = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **kw: calls.append(a))
    with django_capture_on_commit_callbacks(execute=True):
        _post(pep_client, requestId="r-1")
        _post(pep_client, requestId="r-2")
    assert len(calls) == 2


def test_it_still_answers_202_when_the_queue_is_down(
    pep_client, catalogue, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr("django_q.tasks.async_task", broken)
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(pep_client)
    assert response.status_code == 202  # the sweep will grant it


# --- assign-bonus: idempotency, case by case --------------------------------------------------


def test_it_returns_202_for_duplicate_request_id_and_grants_once(pep_client, catalogue) -> None:
    assert _post(pep_client).status_code == 202
    _process_all()
    assert _post(pep_client).status_code == 202
    _process_all()
    assert BonusAssignment.objects.get().duplicate_count == 1
    assert PlayerBonus.objects.count() == 1
    assert OutboxMessage.objects.filter(message_type="bonus_granted").count() == 1


def test_it_treats_reordered_keys_and_whitespace_as_the_same_request(pep_client, catalogue) -> None:
    body = _body()
    assert _post_raw(pep_client, json.dumps(body)).status_code == 202
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=4)
    response = _post_raw(pep_client, reordered)
    assert response.status_code == 202
    assert BonusAssignment.objects.count() == 1
    assert not AssignmentConflict.objects.exists()


def test_it_returns_409_for_the_same_request_id_with_another_body(pep_client, catalogue) -> None:
    assert _post(pep_client).status_code == 202
    response = _post(pep_client, amount=99)
    assert response.status_code == 409
    assert "requestId" in json.dumps(response.json())
    conflict = AssignmentConflict.objects.get()
    assert conflict.body["amount"] == 99
    assert _post(pep_client, amount=99).status_code == 409
    conflict.refresh_from_db()
    assert conflict.attempts == 2
    assert BonusAssignment.objects.get().amount is None  # the first body stands


def test_two_credentials_of_one_pep_instance_share_the_request_id_space(catalogue) -> None:
    for name in ("pep-a", "pep-b"):  # e.g. the old and the new key during a rotation
        assert _post(pep_api_client(name)).status_code == 202
    assert BonusAssignment.objects.get().duplicate_count == 1


def test_a_credential_of_another_pep_instance_has_its_own_request_ids(catalogue) -> None:
    assert _post(pep_api_client("pep")).status_code == 202
    staging = api_key_create(name="PEP staging", scope="pep", sender="pep-staging")
    client = APIClient()
    client.credentials(HTTP_X_AUTHORIZATION=staging.api_key)
    assert _post(client).status_code == 202
    assert sorted(BonusAssignment.objects.values_list("sender", flat=True)) == [
        "pep",
        "pep-staging",
    ]


def test_a_refused_request_retried_with_another_credential_of_the_instance_counts_once(
    catalogue,
) -> None:
    for name in ("pep-a", "pep-b"):  # a key rotation between two of PEP's retries
        assert _post(pep_api_client(name), bonusOfferId="NOPE").status_code == 400
    rejected = RejectedAssignment.objects.get()
    assert (rejected.sender, rejected.attempts) == ("pep", 2)
    assert rejected.client_key.startswith("apikey:")  # the credential that sent it last


def test_a_refused_request_of_another_pep_instance_is_recorded_apart(catalogue) -> None:
    assert _post(pep_api_client("pep"), bonusOfferId="NOPE").status_code == 400
    staging = api_key_create(name="PEP staging", scope="pep", sender="pep-staging")
    client = APIClient()
    client.credentials(HTTP_X_AUTHORIZATION=staging.api_key)
    assert _post(client, bonusOfferId="NOPE").status_code == 400
    assert sorted(RejectedAssignment.objects.values_list("sender", flat=True)) == [
        "pep",
        "pep-staging",
    ]


def test_it_accepts_a_retry_once_the_unknown_bonus_exists(pep_client, make_bonus) -> None:
    first = _post(pep_client)
    assert first.status_code == 400
    make_bonus()  # the operator adds the bonus; PEP's next retry succeeds
    assert _post(pep_client).status_code == 202
    assert BonusAssignment.objects.count() == 1
    assert RejectedAssignment.objects.get().attempts == 1


def test_it_answers_the_same_after_a_refused_grant(pep_client, make_bonus) -> None:
    make_bonus()
    assert _post(pep_client, playerId="nobody").status_code == 202
    _process_all()
    assert _post(pep_client, playerId="nobody").status_code == 202
    _process_all()
    item = AssignmentItem.objects.get()
    assert (item.outcome, item.reason) == ("refused", "unknown_player")


# --- assign-bonus: errors -------------------------------------------------------------------


def test_it_returns_400_and_records_an_unknown_bonus_once_counting_retries(pep_client) -> None:
    for _ in range(3):
        response = _post(pep_client, bonusOfferId="NOPE")
        assert response.status_code == 400
        assert "bonusId" in json.dumps(response.json())
    rejected = RejectedAssignment.objects.get()
    assert (rejected.request_id, rejected.attempts) == ("r-1", 3)
    assert rejected.body["bonusOfferId"] == "NOPE"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"requestId": None}, "requestId"),
        ({"eventDate": "yesterday"}, "eventDate"),
        ({"playerId": None}, "playerId"),
        ({"bonusOfferId": None}, "bonusId"),
        ({"bonusId": "OTHER"}, "bonusOfferId"),
        ({"playerIds": []}, "playerIds"),
        ({"amount": -1}, "amount"),
        ({"currency": "eur"}, "currency"),
        ({"metadata": "x"}, "metadata"),
    ],
)
def test_it_returns_400_with_field_errors_for_a_malformed_request(
    pep_client, catalogue, overrides, field
) -> None:
    response = _post(pep_client, **overrides)
    assert response.status_code == 400
    assert field in json.dumps(response.json())
    assert RejectedAssignment.objects.count() == 1
    assert not BonusAssignment.objects.exists()


def test_it_returns_400_for_too_many_players(pep_client, catalogue, settings) -> None:
    settings.BONUS_ASSIGN_MAX_PLAYERS = 2
    response = _post(pep_client, playerId=None, playerIds=["a", "b", "c"])
    assert response.status_code == 400


def test_it_returns_400_and_records_a_body_that_is_not_json(pep_client) -> None:
    response = _post_raw(pep_client, '{"requestId": "r-1", ')
    assert response.status_code == 400
    assert RejectedAssignment.objects.get().body == '{"requestId": "r-1", '


def test_it_returns_400_and_records_a_deeply_nested_body(pep_client) -> None:
    nested = "[" * 100_000 + "]" * 100_000  # under the size limit, past the decoder's depth
    response = _post_raw(pep_client, nested)
    assert response.status_code == 400
    assert response.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": "The body is nested too deeply to be read.",
    }
    assert RejectedAssignment.objects.count() == 1


def test_it_returns_413_in_the_error_shape_for_a_body_over_the_upload_limit(
    pep_client, catalogue, settings
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    response = _post(pep_client, requestId="r-" + "x" * 200)
    assert response.status_code == 413
    assert response.json() == {
        "statusCode": 413,
        "error": "Request Entity Too Large",
        "message": "The body is over the limit of 100 bytes. Split it into smaller requests.",
    }
    assert not BonusAssignment.objects.exists()


def test_it_returns_400_for_a_json_array(pep_client) -> None:
    assert _post_raw(pep_client, "[1, 2]").status_code == 400
    assert RejectedAssignment.objects.count() == 1


def test_it_returns_401_without_credentials(catalogue) -> None:
    response = _post(APIClient())
    assert response.status_code == 401
    assert response.json()["statusCode"] == 401
    assert not BonusAssignment.objects.exists()
    assert not RejectedAssignment.objects.exists()


def test_it_returns_401_for_a_wrong_api_key(catalogue) -> None:
    client = APIClient()
    client.credentials(HTTP_X_AUTHORIZATION="pbk_nope_wrong")
    assert _post(client).status_code == 401


def test_it_returns_403_for_a_credential_without_the_pep_scope(catalogue) -> None:
    assert _post(pep_api_client(scope="ingest")).status_code == 403
    assert not BonusAssignment.objects.exists()


def test_it_answers_in_the_project_error_shape(pep_client, catalogue) -> None:
    body = _post(pep_client, bonusOfferId="NOPE").json()
    assert body == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": "Some fields are invalid.",
        "errors": {"bonusId": ["Unknown bonus 'NOPE'."]},
    }


# --- the bonus list -------------------------------------------------------------------------


@pytest.fixture
def shelf(make_bonus) -> None:
    make_bonus("WELCOME-10", name="Welcome 10", wagering_requirement=Decimal("30"))
    make_bonus("FS-50", name="50 spins", bonus_type="free_spins", amount=50, currency="")
    make_bonus("USD-5", name="Five dollars", currency="USD", is_active=False)
    make_bonus("OLD", name="Old", is_active=False, retired_at=timezone.now())


def _ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["bonusId"] for item in response.json()["items"]]


def test_it_lists_the_bonuses_pep_may_offer_but_not_retired_ones(pep_client, shelf) -> None:
    response = pep_client.get(LIST)
    assert _ids(response) == ["FS-50", "USD-5", "WELCOME-10"]
    first = response.json()["items"][2]
    assert first == {
        "bonusId": "WELCOME-10",
        "bonusOfferId": "WELCOME-10",
        "name": "Welcome 10",
        "description": "",
        "type": "cash",
        "amount": 10.0,
        "percentage": None,
        "currency": "EUR",
        "wageringRequirement": 30.0,
        "validFrom": None,
        "validTo": None,
        "expiresAfterDays": None,
        "maxGrantsPerPlayer": None,
        "active": True,
        "amountOverrideAllowed": False,
        "minAmountPerGrant": None,
        "maxAmountPerGrant": None,
    }
    assert response.json()["total"] == 3


def test_the_list_shows_the_per_grant_limits_but_not_the_daily_ones(pep_client, make_bonus):
    make_bonus(
        amount_override_allowed=True,
        min_amount_per_grant=Decimal("5"),
        max_amount_per_grant=Decimal("50"),
        daily_cap=Decimal("1000"),
        daily_cap_per_player=Decimal("100"),
    )
    (item,) = pep_client.get(LIST).json()["items"]
    assert (
        item["amountOverrideAllowed"],
        item["minAmountPerGrant"],
        item["maxAmountPerGrant"],
    ) == (
        True,
        5.0,
        50.0,
    )
    assert not {key for key in item if "daily" in key.lower() or "cap" in key.lower()}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("search=spin", ["FS-50"]),
        ("search=usd", ["USD-5"]),
        ("type=free_spins", ["FS-50"]),
        ("currency=USD", ["USD-5"]),
        ("active=true", ["FS-50", "WELCOME-10"]),
        ("active=false", ["USD-5"]),
    ],
)
def test_it_filters_the_list(pep_client, shelf, query, expected) -> None:
    assert _ids(pep_client.get(f"{LIST}?{query}")) == expected


def test_it_pages_the_list(pep_client, shelf) -> None:
    first = pep_client.get(f"{LIST}?limit=2").json()
    second = pep_client.get(f"{LIST}?limit=2&page=2").json()
    assert [b["bonusId"] for b in first["items"]] == ["FS-50", "USD-5"]
    assert (first["hasNext"], first["total"], first["limit"]) == (True, 3, 2)
    assert [b["bonusId"] for b in second["items"]] == ["WELCOME-10"]
    assert second["hasNext"] is False


def test_it_allows_pages_of_up_to_1000(pep_client, make_bonus) -> None:
    for n in range(1001):
        make_bonus(f"B{n:04d}")
    assert len(pep_client.get(f"{LIST}?limit=1000").json()["items"]) == 1000


@pytest.mark.parametrize(
    "query", ["limit=1001", "limit=0", "page=0", "type=lottery", "active=maybe", "currency=eu"]
)
def test_it_returns_400_for_a_bad_filter(pep_client, shelf, query) -> None:
    response = pep_client.get(f"{LIST}?{query}")
    assert response.status_code == 400
    assert query.split("=")[0] in json.dumps(response.json())


def test_the_list_needs_credentials(shelf) -> None:
    assert APIClient().get(LIST).status_code == 401
    assert pep_api_client(scope="ingest").get(LIST).status_code == 403
