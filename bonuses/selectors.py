"""Reads for bonuses, shared by PEP's bonus list, the grant's limits and the admin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from bonuses.models import AssignmentItem, Bonus, PlayerBonus

MAX_PAGE_SIZE = 1000
# No catalogue has a million pages; the bound keeps the SQL offset far inside 64 bits.
MAX_PAGE = 1_000_000


@dataclass(frozen=True)
class BonusPage:
    items: list[Bonus]
    page: int
    limit: int
    total: int

    @property
    def has_next(self) -> bool:
        return self.page * self.limit < self.total


def bonus_list(
    *,
    search: str = "",
    bonus_type: str = "",
    currency: str = "",
    active: bool | None = None,
) -> QuerySet[Bonus]:
    """The bonuses PEP may offer: never retired ones (PEP was told to delete those)."""
    bonuses = Bonus.objects.filter(retired_at__isnull=True)
    if search:
        bonuses = bonuses.filter(Q(bonus_id__icontains=search) | Q(name__icontains=search))
    if bonus_type:
        bonuses = bonuses.filter(bonus_type=bonus_type)
    if currency:
        bonuses = bonuses.filter(currency=currency)
    if active is not None:
        bonuses = bonuses.filter(is_active=active)
    return bonuses.order_by("bonus_id")


def bonus_page(bonuses: QuerySet[Bonus], *, page: int, limit: int) -> BonusPage:
    """One page (1-based) of at most MAX_PAGE_SIZE bonuses, with the total for PEP's pager."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    offset = (max(page, 1) - 1) * limit
    return BonusPage(
        items=list(bonuses[offset : offset + limit]),
        page=max(page, 1),
        limit=limit,
        total=bonuses.count(),
    )


def day_start() -> datetime:
    """Midnight today in TIME_ZONE: the daily caps and budgets count from here.

    The default zone, not the active one: the admin activates each staff member's own zone, and
    the day shown there must be the day the grant counted.
    """
    now = timezone.localtime(timezone=timezone.get_default_timezone())
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def granted_since(since: datetime, **filters: Any) -> Decimal:
    """Sum of the amounts granted since `since` (cancelled grants give their share back)."""
    granted = PlayerBonus.objects.filter(granted_at__gte=since, **filters).exclude(
        status=PlayerBonus.Status.CANCELLED
    )
    return granted.aggregate(total=Sum("amount"))["total"] or Decimal(0)


def granted_today(*, currency: str) -> Decimal:
    """What the day's grants in `currency` add up to (against its DailyGrantBudget)."""
    return granted_since(day_start(), currency=currency)


def limit_refusals(*, since: datetime) -> dict[str, int]:
    """Players refused by a money limit since `since`, per reason code (for metrics/alerts)."""
    rows = (
        AssignmentItem.objects.filter(
            outcome=AssignmentItem.Outcome.REFUSED,
            reason__in=AssignmentItem.LIMIT_REASONS,
            decided_at__gte=since,
        )
        .values("reason")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {row["reason"]: row["n"] for row in rows}
