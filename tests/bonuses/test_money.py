"""Money: amounts that fit the columns, per-bonus limits, daily caps, budgets, sweep isolation."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import DataError, transaction
from django.utils import timezone

from bonuses import services
from bonuses.models import (
    AssignmentItem,
    Bonus,
    BonusAssignment,
    PlayerBonus,
    RejectedAssignment,
    decimal_fits,
)
from events.models import OutboxMessage
from players.models import Player

pytestmark = pytest.mark.django_db

ASSIGN = "/api/bonus/v1/assign-bonus"
Reason = AssignmentItem.Reason
HUGE = 99999999999999  # 14 digits: fits `amount`, but x 30 overflows `wagering_required`


def _body(**overrides: Any) -> dict[str, Any]:
    body = {
        "requestId": "r-1",
        "eventDate": "2026-01-01T00:00:00Z",
        "playerId": "p-1",
        "bonusId": "CASH10",
    }
    body.update(overrides)
    return body


def _post(client: Any, **overrides: Any) -> Any:
    return client.post(ASSIGN, json.dumps(_body(**overrides)), content_type="application/json")


def _accept(request_id: str = "r-1", *players: str, bonus: str = "CASH10", **kw: Any) -> int:
    request = services.AssignRequest(
        request_id=request_id,
        event_date=timezone.now(),
        player_ids=players or ("p-1",),
        bonus_ref=bonus,
        **kw,
    )
    body = {"requestId": request_id, "playerIds": list(request.player_ids)}
    result = services.assignment_accept(client_key="pep", request=request, body=body)
    return result.assignment.pk


def _process(assignment_id: int) -> AssignmentItem:
    services.assignment_process(assignment_id=assignment_id)
    return AssignmentItem.objects.filter(assignment_id=assignment_id).get()


@pytest.fixture
def cash10(make_bonus, make_player) -> Bonus:
    make_player("p-1")
    return make_bonus("CASH10", wagering_requirement=Decimal("30"))


# --- amounts must fit the columns ----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "fits"),
    [
        (Decimal("99999999999999.9999"), True),
        (Decimal("100000000000000"), False),
        (Decimal("-99999999999999.9999"), True),
        (Decimal("99999999999999.99995"), False),  # rounds up to 15 integer digits
        (Decimal("1E+400"), False),
        (Decimal("Infinity"), False),
        (Decimal("NaN"), False),
    ],
)
def test_decimal_fits_follows_the_columns_digits(value: Decimal, fits: bool) -> None:
    assert decimal_fits(PlayerBonus._meta.get_field("amount"), value) is fits


def test_an_amount_override_whose_wagering_overflows_is_a_400_and_stores_nothing(
    pep_client, cash10
) -> None:
    response = _post(pep_client, amount=HUGE)

    assert response.status_code == 400
    payload = response.json()
    assert (payload["statusCode"], payload["error"]) == (400, "Bad Request")
    assert "amount" in payload["errors"]
    assert not BonusAssignment.objects.exists()
    assert not PlayerBonus.objects.exists()
    assert not OutboxMessage.objects.filter(message_type="bonus_granted").exists()
    assert RejectedAssignment.objects.get().errors["amount"]  # recorded for staff


def test_the_largest_amount_whose_wagering_fits_is_accepted(pep_client, cash10) -> None:
    assert _post(pep_client, amount=3333333333333).status_code == 202  # x 30 has 14 digits
    assert _post(pep_client, requestId="r-2", amount=3333333333334).status_code == 400


def test_the_catalogue_refuses_an_amount_whose_wagering_cannot_be_stored() -> None:
    bonus = Bonus(
        bonus_id="BIG", name="Big", bonus_type="cash", amount=Decimal(HUGE), currency="EUR"
    )
    bonus.wagering_requirement = Decimal("30")
    with pytest.raises(ValidationError) as caught:
        bonus.full_clean()
    assert "wagering_requirement" in caught.value.message_dict


def test_the_grant_refuses_an_amount_that_no_longer_fits_after_a_catalogue_change(cash10) -> None:
    cash10.wagering_requirement = Decimal("0")
    cash10.save()
    assignment_id = _accept(amount=Decimal(HUGE))  # fits while there is no wagering ...
    Bonus.objects.filter(pk=cash10.pk).update(wagering_requirement=Decimal("30"))
    item = _process(assignment_id)

    assert (item.outcome, item.reason) == ("refused", Reason.AMOUNT_INVALID)
    assert not PlayerBonus.objects.exists()
    assert BonusAssignment.objects.get().status == BonusAssignment.Status.PROCESSED


@pytest.mark.postgres
def test_postgres_overflows_exactly_where_decimal_fits_says(cash10) -> None:
    fields = {"player": Player.objects.get(), "bonus": cash10, "currency": "EUR"}
    biggest = Decimal("99999999999999.9999")
    assert decimal_fits(PlayerBonus._meta.get_field("wagering_required"), biggest)
    PlayerBonus.objects.create(amount=biggest, wagering_required=biggest, **fields)
    assert not decimal_fits(PlayerBonus._meta.get_field("wagering_required"), biggest + 1)
    with pytest.raises(DataError), transaction.atomic():
        PlayerBonus.objects.create(amount=1, wagering_required=biggest + 1, **fields)
