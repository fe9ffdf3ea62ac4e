"""Reads for bonuses, shared by PEP's bonus list and (later) the admin."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from bonuses.models import Bonus

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
