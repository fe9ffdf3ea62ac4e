"""Money: amounts that fit the columns, per-bonus limits, daily caps, budgets, sweep isolation."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import DataError, OperationalError, connection, transaction
from django.utils import timezone

from bonuses import selectors, services
from bonuses.models import (
    AssignmentItem,
    Bonus,
    BonusAssignment,
    DailyGrantBudget,
    PlayerBonus,
    RejectedAssignment,
    decimal_fits,
)
from bonuses.services import grants
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
    return make_bonus("CASH10", wagering_requirement=Decimal("30"), amount_override_allowed=True)


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
    assert payload["errors"] == {"amount": ["Amount too large to store."]}
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


# --- per-grant limits in the catalogue -----------------------------------------------------


def _refused_item(assignment_id: int) -> str:
    item = _process(assignment_id)
    assert item.outcome == AssignmentItem.Outcome.REFUSED
    return item.reason


@pytest.mark.parametrize(
    ("limits", "amount"),
    [
        ({"amount_override_allowed": False}, 5),
        ({"min_amount_per_grant": Decimal("5")}, 4),
        ({"max_amount_per_grant": Decimal("20")}, 21),
    ],
)
def test_an_override_outside_the_bonus_limits_is_a_400_and_stores_nothing(
    pep_client, cash10, limits, amount
) -> None:
    Bonus.objects.filter(pk=cash10.pk).update(**limits)
    response = _post(pep_client, amount=amount)

    assert response.status_code == 400
    assert response.json()["errors"]["amount"]
    assert not BonusAssignment.objects.exists()


def test_a_new_bonus_refuses_overrides_until_staff_allow_them(pep_client, make_player) -> None:
    make_player("p-1")
    services.bonus_create(
        bonus_id="CASH10", name="Cash 10", bonus_type="cash", amount=Decimal("10"), currency="EUR"
    )
    response = _post(pep_client, amount=12)
    assert response.status_code == 400
    assert response.json()["errors"] == {"amount": ["PEP may not override this bonus's amount."]}
    assert _post(pep_client).status_code == 202  # no amount: the catalogue's
    assert _post(pep_client, requestId="r-2", amount=10.0).status_code == 202  # the same amount


def test_an_override_inside_the_limits_is_granted(pep_client, cash10) -> None:
    Bonus.objects.filter(pk=cash10.pk).update(min_amount_per_grant=5, max_amount_per_grant=20)
    assert _post(pep_client, amount=20).status_code == 202
    assert _process(BonusAssignment.objects.get().pk).outcome == "granted"


@pytest.mark.parametrize(
    ("limits", "reason"),
    [
        ({"amount_override_allowed": False}, Reason.OVERRIDE_DENIED),
        ({"min_amount_per_grant": Decimal("50")}, Reason.BELOW_MIN),
        ({"max_amount_per_grant": Decimal("5")}, Reason.ABOVE_MAX),
    ],
)
def test_limits_set_after_acceptance_refuse_at_grant_time(cash10, limits, reason) -> None:
    assignment_id = _accept(amount=Decimal("12"))
    Bonus.objects.filter(pk=cash10.pk).update(**limits)
    assert _refused_item(assignment_id) == reason
    assert not PlayerBonus.objects.exists()


def test_the_catalogue_refuses_an_amount_outside_its_own_limits(make_bonus) -> None:
    with pytest.raises(ValidationError):
        services.bonus_create(
            bonus_id="B", name="B", bonus_type="cash", amount=Decimal("10"), currency="EUR",
            max_amount_per_grant=Decimal("5"),
        )  # fmt: skip
    with pytest.raises(ValidationError):
        services.bonus_create(
            bonus_id="C", name="C", bonus_type="cash", amount=Decimal("10"), currency="EUR",
            min_amount_per_grant=Decimal("20"), max_amount_per_grant=Decimal("5"),
        )  # fmt: skip
    assert not Bonus.objects.exists()


# --- daily caps and the budget -------------------------------------------------------------


def test_the_player_daily_cap_counts_the_day_s_grants_of_the_bonus(cash10, make_player) -> None:
    Bonus.objects.filter(pk=cash10.pk).update(daily_cap_per_player=Decimal("25"))
    make_player("p-2")
    assert _process(_accept("r-1")).outcome == "granted"
    assert _process(_accept("r-2")).outcome == "granted"
    assert _refused_item(_accept("r-3")) == Reason.PLAYER_DAILY_CAP  # 30 > 25
    assert _process(_accept("r-4", "p-2")).outcome == "granted"  # another player's own cap
    assert _process(_accept("r-5", amount=Decimal("5"))).outcome == "granted"  # 25 fits


def test_yesterday_s_and_cancelled_grants_do_not_count(cash10) -> None:
    Bonus.objects.filter(pk=cash10.pk).update(daily_cap_per_player=Decimal("10"))
    _process(_accept("r-1"))
    PlayerBonus.objects.update(granted_at=timezone.now() - timedelta(days=1))
    _process(_accept("r-2"))
    PlayerBonus.objects.filter(source_request_id="r-2").update(status="cancelled")
    assert _process(_accept("r-3")).outcome == "granted"


def test_the_bonus_daily_cap_counts_every_player(cash10, make_player) -> None:
    Bonus.objects.filter(pk=cash10.pk).update(daily_cap=Decimal("20"))
    make_player("p-2")
    make_player("p-3")
    assignment_id = _accept("r-1", "p-1", "p-2", "p-3")
    services.assignment_process(assignment_id=assignment_id)
    outcomes = dict(
        AssignmentItem.objects.filter(assignment_id=assignment_id).values_list(
            "player_id", "reason"
        )
    )
    assert sorted(outcomes.values()) == ["", "", Reason.BONUS_DAILY_CAP]
    assert PlayerBonus.objects.count() == 2


def test_the_daily_budget_counts_every_bonus_in_its_currency(cash10, make_bonus) -> None:
    DailyGrantBudget.objects.create(currency="EUR", daily_limit=Decimal("15"))
    make_bonus("OTHER", amount=Decimal("5"))
    make_bonus("SPINS", bonus_type="free_spins", amount=Decimal("50"), currency="")
    assert _process(_accept("r-1")).outcome == "granted"  # 10
    assert _process(_accept("r-2", bonus="OTHER")).outcome == "granted"  # 15
    assert _refused_item(_accept("r-3", bonus="OTHER")) == Reason.DAILY_BUDGET  # 20 > 15
    assert _process(_accept("r-4", bonus="SPINS")).outcome == "granted"  # spins: no currency


def test_a_limit_refusal_logs_an_alert_without_personal_data(cash10, caplog) -> None:
    DailyGrantBudget.objects.create(currency="EUR", daily_limit=Decimal("0"))
    with caplog.at_level("WARNING", logger="bonuses.services.grants"):
        _refused_item(_accept("r-1"))

    (record,) = [r for r in caplog.records if r.getMessage() == "bonus_limit_refused"]
    assert record.levelname == "WARNING"
    assert (record.event, record.reason, record.bonus) == (  # type: ignore[attr-defined]
        "bonus_limit_refused",
        Reason.DAILY_BUDGET,
        "CASH10",
    )
    assert "p-1" not in caplog.text


def test_a_refusal_over_a_limit_is_recorded_once_however_often_pep_sends_it(
    pep_client, cash10
) -> None:
    DailyGrantBudget.objects.create(currency="EUR", daily_limit=Decimal("5"))
    assert _post(pep_client).status_code == 202
    assignment = BonusAssignment.objects.get()
    _process(assignment.pk)
    assert _post(pep_client).status_code == 202  # PEP's retry: the first answer
    services.assignment_process(assignment_id=assignment.pk)

    item = AssignmentItem.objects.get()
    assert (item.outcome, item.reason) == ("refused", Reason.DAILY_BUDGET)
    assert item.get_reason_display() == "The daily budget for the currency is spent"
    assert not PlayerBonus.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("limit", ["bonus_daily_cap", "daily_budget"])
def test_concurrent_grants_to_different_players_cannot_both_pass_a_cap(
    make_bonus, make_player, limit
) -> None:
    bonus = make_bonus("CASH10")
    if limit == "bonus_daily_cap":
        Bonus.objects.filter(pk=bonus.pk).update(daily_cap=Decimal("10"))
    else:
        DailyGrantBudget.objects.create(currency="EUR", daily_limit=Decimal("10"))
    ids = []
    for n in range(6):
        make_player(f"p-{n}")
        ids.append(_accept(f"r-{n}", f"p-{n}"))
    barrier = threading.Barrier(len(ids))

    def grant(assignment_id: int) -> None:
        try:
            barrier.wait()
            services.assignment_process(assignment_id=assignment_id)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(ids)) as pool:
        list(pool.map(grant, ids))

    assert PlayerBonus.objects.count() == 1
    refused = AssignmentItem.objects.filter(outcome="refused").values_list("reason", flat=True)
    assert list(refused) == [limit] * 5


# --- the sweep isolates each assignment ----------------------------------------------------


def _stale(*assignment_ids: int) -> None:
    BonusAssignment.objects.filter(pk__in=assignment_ids).update(
        received_at=timezone.now() - timedelta(hours=1)
    )


def test_a_poisoned_assignment_is_marked_failed_and_cannot_block_the_others(
    cash10, make_player
) -> None:
    make_player("p-2")
    poisoned = _accept("r-poison")
    BonusAssignment.objects.filter(pk=poisoned).update(player_ids=5)  # a broken row: not a list
    good = [_accept("r-1"), _accept("r-2", "p-2")]
    _stale(poisoned, *good)
    BonusAssignment.objects.filter(pk=poisoned).update(  # the oldest: swept first
        received_at=timezone.now() - timedelta(hours=2)
    )

    assert services.assignment_sweep() == 3

    failed = BonusAssignment.objects.get(pk=poisoned)
    assert failed.status == BonusAssignment.Status.FAILED
    assert failed.failure_reason.startswith("TypeError")
    assert set(BonusAssignment.objects.filter(pk__in=good).values_list("status", flat=True)) == {
        "processed"
    }
    assert PlayerBonus.objects.count() == 2
    assert services.assignment_sweep() == 0  # failed rows are not swept again


def test_a_database_outage_leaves_the_assignment_for_the_next_sweep(cash10, monkeypatch) -> None:
    assignment_id = _accept("r-1")
    _stale(assignment_id)

    def locked(*, assignment_id: int) -> None:
        raise OperationalError("database is locked")

    monkeypatch.setattr(grants, "assignment_process", locked)
    services.assignment_sweep()
    assert BonusAssignment.objects.get().status == BonusAssignment.Status.ACCEPTED
    monkeypatch.undo()
    services.assignment_sweep()
    assert BonusAssignment.objects.get().status == BonusAssignment.Status.PROCESSED


def test_metrics_can_count_limit_refusals_per_reason(cash10) -> None:
    DailyGrantBudget.objects.create(currency="EUR", daily_limit=Decimal("0"))
    _process(_accept("r-1", "nobody"))  # unknown player: refused, but not a money limit
    _process(_accept("r-2"))  # over the budget (0)
    late = _accept("r-3", amount=Decimal("8"))
    Bonus.objects.filter(pk=cash10.pk).update(max_amount_per_grant=Decimal("5"))
    _process(late)  # over the maximum set after it was accepted
    assert selectors.limit_refusals(since=timezone.now() - timedelta(hours=1)) == {
        "daily_budget": 1,
        "above_max": 1,
    }


def test_the_day_is_time_zone_s_whatever_zone_a_staff_member_has_active(settings) -> None:
    settings.TIME_ZONE = "Europe/Malta"
    expected = selectors.day_start()
    with timezone.override("Pacific/Kiritimati"):  # UTC+14: another date most of the day
        assert selectors.day_start() == expected
    assert str(expected.tzinfo) == "Europe/Malta"


def test_an_override_over_a_limit_at_accept_raises_the_same_alert(
    pep_client, cash10, caplog
) -> None:
    Bonus.objects.filter(pk=cash10.pk).update(max_amount_per_grant=Decimal("20"))
    with caplog.at_level("WARNING", logger="bonuses.services.assignments"):
        assert _post(pep_client, amount=HUGE).status_code == 400

    (record,) = [r for r in caplog.records if r.getMessage() == "bonus_limit_refused"]
    assert (record.reason, record.stage, record.bonus) == (  # type: ignore[attr-defined]
        Reason.AMOUNT_INVALID,
        "accept",
        "CASH10",
    )
    assert "p-1" not in caplog.text
