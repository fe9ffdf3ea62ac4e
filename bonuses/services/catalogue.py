"""The operator's bonus catalogue: every change is pushed to PEP through the outbox."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from bonuses import messages
from bonuses.models import Bonus

# What an operator may change on a bonus; `bonus_id` is PEP's key for it and never changes.
_EDITABLE = frozenset(
    {
        "name",
        "description",
        "bonus_type",
        "amount",
        "percentage",
        "currency",
        "wagering_requirement",
        "valid_from",
        "valid_to",
        "expires_after_days",
        "max_grants_per_player",
        "amount_override_allowed",
        "min_amount_per_grant",
        "max_amount_per_grant",
        "daily_cap_per_player",
        "daily_cap",
        "is_active",
    }
)


@transaction.atomic
def bonus_create(*, bonus_id: str, name: str, bonus_type: str, **fields: Any) -> Bonus:
    """Add a bonus to the catalogue and queue its offer upsert to PEP (same transaction)."""
    unknown = set(fields) - _EDITABLE
    if unknown:
        raise TypeError(f"unknown bonus fields: {', '.join(sorted(unknown))}")
    bonus = Bonus(bonus_id=bonus_id, name=name, bonus_type=bonus_type, **fields)
    bonus.full_clean()
    bonus.save()
    messages.enqueue_offer_upsert(bonus)
    return bonus


@transaction.atomic
def bonus_update(*, bonus: Bonus, **changes: Any) -> Bonus:
    """Change a bonus and queue the offer upsert; a retired bonus cannot be changed."""
    unknown = set(changes) - _EDITABLE
    if unknown:
        raise TypeError(f"cannot change bonus fields: {', '.join(sorted(unknown))}")
    bonus = Bonus.objects.select_for_update().get(pk=bonus.pk)
    if bonus.retired_at is not None:
        raise ValueError(f"bonus {bonus.bonus_id} is retired")
    for name, value in changes.items():
        setattr(bonus, name, value)
    bonus.full_clean()
    bonus.save(update_fields=[*changes, "updated_at"])
    messages.enqueue_offer_upsert(bonus)
    return bonus


@transaction.atomic
def bonus_retire(*, bonus: Bonus) -> Bonus:
    """Withdraw a bonus: no new grants, PEP deletes the offer; granted bonuses are untouched."""
    bonus = Bonus.objects.select_for_update().get(pk=bonus.pk)
    if bonus.retired_at is not None:
        return bonus
    bonus.is_active = False
    bonus.retired_at = timezone.now()
    bonus.save(update_fields=["is_active", "retired_at", "updated_at"])
    messages.enqueue_offer_delete(bonus)
    return bonus
