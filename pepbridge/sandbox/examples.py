"""One valid payload per Platform API message type: for demos, curl examples and tests.

The examples are written by attr (our names, pepbridge.pep.contract.bodies) and turned into wire
bodies by `contract.wire_body`, as the builders' bodies are, so a wire name renamed in the
contract is renamed here too. Values are what `pepbridge.pep.wire.loads` would return (Decimal
amounts), so each example can be fed to `contract.validate` or to `wire.dumps` unchanged.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from pepbridge.pep import contract

_WHEN = "2024-05-01T12:34:56.789Z"

_GAME_ROW: dict[str, Any] = {
    "player_id": "p-1",
    "transaction_id": "gt-1",
    "transaction_type": "BET",
    "transaction_status": "APPROVED",
    "real_money_amount": Decimal("10.50"),
    "bonus_money_amount": 0,
    "currency": "EUR",
    "exchange_rate": 1,
    "date": _WHEN,
    "real_money_balance": Decimal("89.50"),
    "bonus_money_balance": 0,
    "game_id": "g-1",
    "game_name": "Book of Dead",
    "game_category_id": "slots",
    "game_category_name": "Slots",
    "game_provider_id": "play-n-go",
    "game_provider_name": "Play'n GO",
    "game_session_id": "s-1",
}

_PROFILE = {"username": "ana", "first_name": "Ana", "country": "ES", "birth_date": "1990-02-03"}

# message type -> its example by attr; None: the endpoint takes no body.
_EXAMPLES: dict[str, dict[str, Any] | None] = {
    "token": {"client_id": "pepbridge-dev", "client_secret": "secret"},
    "game_round": {
        "game_transaction_round": [
            _GAME_ROW,
            {
                **_GAME_ROW,
                "transaction_id": "gt-2",
                "transaction_type": "WIN",
                "real_money_amount": Decimal("20"),
                "bet_amount": Decimal("10.50"),
            },
        ]
    },
    "sport_transaction": {
        "player_id": "p-1",
        "transaction_id": "st-2",
        "transaction_id_reference": "st-1",
        "transaction_type": "SETTLEMENT",
        "transaction_status": "APPROVED",
        "real_money_amount": Decimal("25.00"),
        "bonus_money_amount": 0,
        "currency": "EUR",
        "exchange_rate": 1,
        "date": _WHEN,
        "real_money_balance": Decimal("125.00"),
        "bonus_money_balance": 0,
        "bet": [
            {
                "event_name": "Real Madrid - Barcelona",
                "teams": ["Real Madrid", "Barcelona"],
                "match_date": _WHEN,
                "sport_name": "football",
                "odds": Decimal("2.5"),
                "outcomes": [{"criterial": "1X2", "outcome": "1", "odds": Decimal("2.5")}],
            }
        ],
    },
    "money_transaction": {
        "player_id": "p-1",
        "transaction_id": "mt-1",
        "transaction_type": "DEPOSIT",
        "transaction_status": "APPROVED",
        "amount": Decimal("100"),
        "currency": "EUR",
        "exchange_rate": 1,
        "date": _WHEN,
        "real_money_balance": Decimal("100"),
        "bonus_money_balance": 0,
        "payment_method": "card",
    },
    "bonus_granted": {
        "player_id": "p-1",
        "transaction_id": "bg-1",
        "bonus_offer_id": "WELCOME100",
        "amount": Decimal("50"),
        "currency": "EUR",
        "exchange_rate": 1,
        "date": _WHEN,
    },
    "balance_update": {
        "player_id": "p-1",
        "real_money_balance": Decimal("100"),
        "bonus_money_balance": Decimal("50"),
        "currency": "EUR",
        "date": _WHEN,
    },
    "player_registration": {"player_id": "p-1", "registration_device": "mobile", "date": _WHEN},
    "player_login": {"player_id": "p-1", "date": _WHEN},
    "player_logout": {"player_id": "p-1", "date": _WHEN},
    "player_update": {"first_name": "Ana", "last_name": None},
    "player_create": {"player_id": "p-1", **_PROFILE},
    "player_delete": None,
    "player_tags": {"player_id": "p-1", "tags": ["vip"]},
    "player_marketing_preferences": {
        "player_id": "p-1",
        "channels": {"email": True, "sms": False},
        "date": _WHEN,
    },
    "player_verification": {
        "player_id": "p-1",
        "verification_type": "KYC",
        "verification_status": "VERIFIED",
        "date": _WHEN,
    },
    "player_unsubscribe": {
        "player_id": "p-1",
        "campaign_id": "c-1",
        "reason": "spam",
        "date": _WHEN,
    },
    "crm_trigger": {
        "event_name": "reset-password",
        "player_id": "p-1",
        "event_date": _WHEN,
        "payload": [{"key": "link", "type": "string", "value": "https://example.com/r/1"}],
        "delay": {"duration": "PT5M"},
        "keep_counter": True,
    },
    "bonus_offer_upsert": {
        "name": "Welcome 100%",
        "bonus_type": "DEPOSIT_MATCH",
        "status": "ACTIVE",
    },
    "bonus_offer_delete": None,
    "players_migration_batch": {
        "players": [{"player_id": "p-1", **_PROFILE}, {"player_id": "p-2"}]
    },
}

# Path parameters for the endpoints that take them.
PATH_PARAMS: dict[str, dict[str, str]] = {
    "player_update": {"playerId": "p-1"},
    "player_delete": {"playerId": "p-1"},
    "bonus_offer_upsert": {"bonusOfferId": "WELCOME100"},
    "bonus_offer_delete": {"bonusOfferId": "WELCOME100"},
}


def example(message_type: str) -> Any:
    """Return a fresh wire body for the example (safe to mutate). KeyError if unknown."""
    values = _EXAMPLES[message_type]
    if values is None:
        return None
    # Lists and objects without a spec of their own pass through wire_body: copy them first.
    return contract.wire_body(contract.body_spec(message_type), **copy.deepcopy(values))
