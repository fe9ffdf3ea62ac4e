"""Builders for PEP's bonus-offer catalogue: upsert (PUT, idempotent by id) and delete.

The upsert body is our documented choice until PEP's swagger arrives (docs/contract.md); the
offer id travels in the path only. Catalogue messages use `bonus-offer:<id>` as their ordering key
(PepMessage.player_id), so an upsert and a later delete of one offer cannot overtake each other
when the first is being retried.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from events.messages.base import Errors, amount, make_message, timestamp
from events.outbox import PepMessage
from pepbridge.pep import contract

_OFFER = contract.body_spec("bonus_offer_upsert")


@dataclass(frozen=True)
class BonusOfferInput:
    """One operator bonus offer as PEP's catalogue should show it."""

    bonus_offer_id: str
    name: str
    bonus_type: str
    active: bool
    description: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None


def _optional_timestamp(errors: Errors, field: str, moment: datetime | None) -> str | None:
    return None if moment is None else timestamp(errors, field, moment)


def _offer_body(errors: Errors, offer: BonusOfferInput) -> dict[str, object]:
    """The catalogue entry by attr, checked; wire names come from its spec."""
    w = _OFFER.wire
    if offer.valid_from and offer.valid_to and offer.valid_to <= offer.valid_from:
        errors.add(w("valid_to"), f"must be after {w('valid_from')}")
    return contract.wire_body(
        _OFFER,
        name=offer.name,
        description=offer.description,
        bonus_type=offer.bonus_type,
        status="ACTIVE" if offer.active else "INACTIVE",
        amount=None if offer.amount is None else amount(errors, w("amount"), offer.amount),
        currency=offer.currency,
        valid_from=_optional_timestamp(errors, w("valid_from"), offer.valid_from),
        valid_to=_optional_timestamp(errors, w("valid_to"), offer.valid_to),
    )


def ordering_key(bonus_offer_id: str) -> str:
    return f"bonus-offer:{bonus_offer_id}"


def build_bonus_offer_upsert(offer: BonusOfferInput) -> PepMessage:
    """Build the catalogue upsert. No dedup key: an offer may be edited and re-sent any time."""
    errors = Errors()
    body = _offer_body(errors, offer)
    errors.raise_if_any("bonus_offer_upsert")
    return make_message(
        "bonus_offer_upsert",
        body,
        player_id=ordering_key(offer.bonus_offer_id),
        dedup_key=None,
        occurred_at=None,
        path_params={"bonusOfferId": offer.bonus_offer_id},
    )


def build_bonus_offer_delete(bonus_offer_id: str) -> PepMessage:
    """Build the catalogue delete (PEP soft-deletes; bonuses already granted are untouched)."""
    return make_message(
        "bonus_offer_delete",
        None,
        player_id=ordering_key(bonus_offer_id),
        dedup_key=None,
        occurred_at=None,
        path_params={"bonusOfferId": bonus_offer_id},
    )
