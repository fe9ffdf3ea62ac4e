"""PEP message builders: typed input in, a contract-checked `PepMessage` out, one per message type.

Every builder raises `MessageRejected` (a ValueError with `field_errors`) when its input cannot
become a message PEP accepts. Builders that may have nothing to send return None: a round that
is only a lost WIN, a non-APPROVED money transaction (unless PEP_SEND_NON_APPROVED_MONEY), a
profile update without changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from events.messages.base import MessageRejected
from events.messages.bonuses import (
    BonusOfferInput,
    build_bonus_offer_delete,
    build_bonus_offer_upsert,
)
from events.messages.crm import CrmTriggerInput, build_crm_trigger, build_unsubscribe
from events.messages.players import (
    CHANNEL_WIRE_NAMES,
    PROFILE_WIRE_NAMES,
    build_marketing_preferences,
    build_player_create,
    build_player_delete,
    build_player_login,
    build_player_logout,
    build_player_registration,
    build_player_tags,
    build_player_update,
    build_verification,
)
from events.messages.transactions import (
    BalanceUpdateInput,
    BonusGrantedInput,
    GameRoundInput,
    GameTransaction,
    MoneyTransactionInput,
    SportSelection,
    SportTransactionInput,
    build_balance_update,
    build_bonus_granted,
    build_game_round,
    build_money_transaction,
    build_sport_transaction,
)

# message type (pepbridge.pep.contract key) -> its builder
BUILDERS: dict[str, Callable[..., Any]] = {
    "game_round": build_game_round,
    "sport_transaction": build_sport_transaction,
    "money_transaction": build_money_transaction,
    "bonus_granted": build_bonus_granted,
    "balance_update": build_balance_update,
    "player_registration": build_player_registration,
    "player_login": build_player_login,
    "player_logout": build_player_logout,
    "player_update": build_player_update,
    "player_create": build_player_create,
    "player_delete": build_player_delete,
    "player_tags": build_player_tags,
    "player_marketing_preferences": build_marketing_preferences,
    "player_verification": build_verification,
    "player_unsubscribe": build_unsubscribe,
    "crm_trigger": build_crm_trigger,
    "bonus_offer_upsert": build_bonus_offer_upsert,
    "bonus_offer_delete": build_bonus_offer_delete,
}

__all__ = [
    "BUILDERS",
    "CHANNEL_WIRE_NAMES",
    "PROFILE_WIRE_NAMES",
    "BalanceUpdateInput",
    "BonusGrantedInput",
    "BonusOfferInput",
    "CrmTriggerInput",
    "GameRoundInput",
    "GameTransaction",
    "MessageRejected",
    "MoneyTransactionInput",
    "SportSelection",
    "SportTransactionInput",
    "build_balance_update",
    "build_bonus_granted",
    "build_bonus_offer_delete",
    "build_bonus_offer_upsert",
    "build_crm_trigger",
    "build_game_round",
    "build_marketing_preferences",
    "build_money_transaction",
    "build_player_create",
    "build_player_delete",
    "build_player_login",
    "build_player_logout",
    "build_player_registration",
    "build_player_tags",
    "build_player_update",
    "build_sport_transaction",
    "build_unsubscribe",
    "build_verification",
]
