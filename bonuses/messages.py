"""Translate bonuses into PEP messages and put them in the outbox (inside the caller's transaction).

Choices where PEP's contract is silent (docs/contract.md, "Assign bonus", its last paragraph):

- A bonus worth a percentage (deposit match, cashback) is reported granted with amount 0: the
  money only exists once the player deposits or loses.
- A bonus without a currency (free spins, free bets counted in units) is reported in the PEP
  instance currency, with its unit count as the amount.
- The grant id PEP sees (`transactionId`) is `bonus-<player bonus id>`: stable across retries.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings

from bonuses.models import Bonus, PlayerBonus
from events import forwarding, outbox
from events.messages import (
    BonusGrantedInput,
    BonusOfferInput,
    build_bonus_granted,
    build_bonus_offer_delete,
    build_bonus_offer_upsert,
)


def enqueue_offer_upsert(bonus: Bonus) -> None:
    offer = BonusOfferInput(
        bonus_offer_id=bonus.bonus_id,
        name=bonus.name,
        bonus_type=bonus.bonus_type,
        active=bonus.is_active,
        description=bonus.description or None,
        amount=bonus.amount,
        currency=bonus.currency or None,
        valid_from=bonus.valid_from,
        valid_to=bonus.valid_to,
    )
    outbox.enqueue(build_bonus_offer_upsert(offer))


def enqueue_offer_delete(bonus: Bonus) -> None:
    outbox.enqueue(build_bonus_offer_delete(bonus.bonus_id))


def enqueue_bonus_granted(player_bonus: PlayerBonus) -> None:
    """Queue PEP's bonus-granted event; raises MessageRejected if PEP could not accept it."""
    bonus = player_bonus.bonus
    grant = BonusGrantedInput(
        player_id=player_bonus.player.player_id,
        grant_id=f"bonus-{player_bonus.pk}",
        bonus_offer_id=bonus.bonus_id,
        bonus_offer_name=bonus.name,
        amount=player_bonus.amount if player_bonus.amount is not None else Decimal(0),
        currency=player_bonus.currency or settings.PEP_INSTANCE_CURRENCY,
        occurred_at=player_bonus.granted_at,
    )
    outbox.enqueue(build_bonus_granted(grant))
    forwarding.forward([_bonus_granted_event(player_bonus)])


def _bonus_granted_event(player_bonus: PlayerBonus) -> forwarding.Event:
    """The operator's copy of a grant (docs/webhooks.md, "bridge.bonus_granted")."""
    bonus = player_bonus.bonus
    return forwarding.Event(
        type="bridge.bonus_granted",
        key=f"bonus-granted:{player_bonus.pk}",
        data={
            "playerId": player_bonus.player.player_id,
            "playerBonusId": player_bonus.pk,
            "bonusId": bonus.bonus_id,
            "bonusName": bonus.name,
            "amount": player_bonus.amount,
            "currency": player_bonus.currency or None,
            "grantedAt": player_bonus.granted_at,
            "expiresAt": player_bonus.expires_at,
            "sourceRequestId": player_bonus.source_request_id or None,
        },
        occurred_at=player_bonus.granted_at,
        player_id=player_bonus.player.player_id,
    )
