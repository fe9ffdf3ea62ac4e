"""Deploy checks: money can leave without the limits staff are meant to set (docs/contract.md).

Both look at the catalogue, so they run only with `check --deploy` and stay silent until the
catalogue has an active bonus: an empty or not yet migrated database (CI's deploy check, a
fresh install before `migrate`) has nothing that could be granted, and warning there would only
teach people to ignore the warning. A database that cannot be read is left to the checks and
commands that need it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Warning, register
from django.db import DatabaseError

from bonuses.models import Bonus, DailyGrantBudget

# How many bonus ids the warning names; the admin's filter finds the rest.
NAMED_BONUSES = 5


@register(deploy=True)
def check_money_limits(app_configs: Any, **kwargs: Any) -> list[Warning]:
    """No instance-wide daily budget, or a bonus whose amount PEP may set without a maximum."""
    try:
        return _budget_warnings() + _override_warnings()
    except DatabaseError:  # not migrated or unreachable: nothing known to warn about
        return []


def _live_bonuses() -> Any:
    return Bonus.objects.filter(is_active=True, retired_at__isnull=True)


def _budget_warnings() -> list[Warning]:
    currency = settings.PEP_INSTANCE_CURRENCY
    if not _live_bonuses().exists() or DailyGrantBudget.objects.filter(currency=currency).exists():
        return []
    return [
        Warning(
            f"There is no daily grant budget for {currency} (PEP_INSTANCE_CURRENCY).",
            hint="Nothing caps what all bonuses together grant in a day. Add one in the admin "
            "(Bonuses > Daily grant budgets); docs/contract.md, 'Limits'.",
            id="bonuses.W001",
        )
    ]


def _override_warnings() -> list[Warning]:
    unbounded = _live_bonuses().filter(
        amount_override_allowed=True, max_amount_per_grant__isnull=True
    )
    names = list(
        unbounded.order_by("bonus_id").values_list("bonus_id", flat=True)[: NAMED_BONUSES + 1]
    )
    if not names:
        return []
    shown = ", ".join(names[:NAMED_BONUSES]) + (", ..." if len(names) > NAMED_BONUSES else "")
    return [
        Warning(
            f"Active bonuses let PEP set the amount with no maximum per grant: {shown}.",
            hint="PEP's assign-bonus request then decides how much money one grant is, up to "
            "the field's digits. Set a maximum per grant, or turn the amount override off.",
            id="bonuses.W002",
        )
    ]
