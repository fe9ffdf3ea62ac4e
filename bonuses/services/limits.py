"""The instance-wide money limits staff set: the daily grant budget per currency.

The per-bonus limits live on the catalogue (`Bonus`, changed through `bonus_update`); all of them
are enforced by the grant (`bonuses.services.grants`).
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from bonuses.models import DailyGrantBudget

logger = logging.getLogger(__name__)


@transaction.atomic
def daily_budget_set(*, currency: str, daily_limit: Decimal, actor: User) -> DailyGrantBudget:
    """Set the most all bonuses may grant per day in `currency`, recording who set it.

    Takes the row lock the grant takes, so a grant in flight finishes under the old limit and
    the next one sees the new limit.
    """
    budget = DailyGrantBudget.objects.select_for_update().filter(currency=currency).first()
    budget = budget or DailyGrantBudget(currency=currency)
    budget.daily_limit, budget.changed_by, budget.changed_at = daily_limit, actor, timezone.now()
    budget.full_clean()
    budget.save()
    logger.info(
        "bonus_daily_budget_set",
        extra={"currency": currency, "daily_limit": str(daily_limit), "user_id": actor.pk},
    )
    return budget
