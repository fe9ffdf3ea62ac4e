"""check --deploy warns when money can leave without a budget or a maximum (bonuses.W001/W002)."""

from __future__ import annotations

from decimal import Decimal

from django.core.checks import run_checks
from django.db import DatabaseError
from django.utils import timezone

from bonuses import checks
from bonuses.models import DailyGrantBudget


def _ids() -> list[str]:
    found = run_checks(include_deployment_checks=True)
    return sorted(m.id for m in found if m.id and m.id.startswith("bonuses."))


def test_an_empty_catalogue_warns_about_nothing(db) -> None:
    assert _ids() == []  # CI's deploy check runs on an empty database and must pass


def test_a_live_catalogue_without_a_budget_for_the_instance_currency_warns(
    make_bonus, settings
) -> None:
    settings.PEP_INSTANCE_CURRENCY = "EUR"
    make_bonus()
    DailyGrantBudget.objects.create(currency="CHF", daily_limit=Decimal(1000))
    assert _ids() == ["bonuses.W001"]
    DailyGrantBudget.objects.create(currency="EUR", daily_limit=Decimal(1000))
    assert _ids() == []


def test_a_bonus_pep_may_override_without_a_maximum_warns_and_names_it(make_bonus) -> None:
    DailyGrantBudget.objects.create(currency="EUR", daily_limit=Decimal(1000))
    make_bonus("OPEN", amount_override_allowed=True)
    make_bonus("CAPPED", amount_override_allowed=True, max_amount_per_grant=Decimal(50))
    make_bonus("FIXED")  # no override: the catalogue amount is the amount
    make_bonus("OLD", amount_override_allowed=True, is_active=False, retired_at=timezone.now())
    warnings = [m for m in run_checks(include_deployment_checks=True) if m.id == "bonuses.W002"]
    assert len(warnings) == 1
    assert warnings[0].msg.endswith(": OPEN.")


def test_the_checks_run_only_with_deploy(make_bonus) -> None:
    make_bonus(amount_override_allowed=True)
    assert not [m for m in run_checks() if (m.id or "").startswith("bonuses.")]


def test_a_database_that_cannot_be_read_warns_about_nothing(db, monkeypatch) -> None:
    def unreadable() -> None:
        raise DatabaseError("no such table: bonuses_bonus")

    monkeypatch.setattr(checks, "_live_bonuses", unreadable)
    assert _ids() == []


def test_the_warning_names_a_few_bonuses_only(make_bonus) -> None:
    for n in range(checks.NAMED_BONUSES + 2):
        make_bonus(f"B{n}", amount_override_allowed=True)
    (warning,) = [m for m in run_checks(include_deployment_checks=True) if m.id == "bonuses.W002"]
    assert warning.msg.endswith("B0, B1, B2, B3, B4, ....")
