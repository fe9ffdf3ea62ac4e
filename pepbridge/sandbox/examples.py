"""One valid payload per Platform API message type: for demos, curl examples and tests.

Values are what `pepbridge.pep.wire.loads` would return (Decimal amounts), so each example can be
fed to `contract.validate` or to `wire.dumps` unchanged.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

_WHEN = "2024-05-01T12:34:56.789Z"

_GAME_ROW = {
    "playerId": "p-1",
    "transactionId": "gt-1",
    "transactionType": "BET",
    "transactionStatus": "APPROVED",
    "realMoneyAmount": Decimal("10.50"),
    "bonusMoneyAmount": 0,
    "currency": "EUR",
    "exchangeRate": 1,
    "date": _WHEN,
    "realMoneyBalance": Decimal("89.50"),
    "bonusMoneyBalance": 0,
    "gameId": "g-1",
    "gameName": "Book of Dead",
    "gameCategoryId": "slots",
    "gameCategoryName": "Slots",
    "gameProviderId": "play-n-go",
    "gameProviderName": "Play'n GO",
    "gameSessionId": "s-1",
}

_PROFILE = {"username": "ana", "firstName": "Ana", "country": "ES", "birthDate": "1990-02-03"}

_EXAMPLES: dict[str, Any] = {
    "token": {"clientId": "pepbridge-dev", "clientSecret": "secret"},
    "game_round": {
        "gameTransactionRound": [
            _GAME_ROW,
            {
                **_GAME_ROW,
                "transactionId": "gt-2",
                "transactionType": "WIN",
                "realMoneyAmount": Decimal("20"),
                "betAmount": Decimal("10.50"),
            },
        ]
    },
    "sport_transaction": {
        "playerId": "p-1",
        "transactionId": "st-2",
        "transactionIdReference": "st-1",
        "transactionType": "SETTLEMENT",
        "transactionStatus": "APPROVED",
        "realMoneyAmount": Decimal("25.00"),
        "bonusMoneyAmount": 0,
        "currency": "EUR",
        "exchangeRate": 1,
        "date": _WHEN,
        "realMoneyBalance": Decimal("125.00"),
        "bonusMoneyBalance": 0,
        "bet": [
            {
                "eventName": "Real Madrid - Barcelona",
                "teams": ["Real Madrid", "Barcelona"],
                "matchDate": _WHEN,
                "sportName": "football",
                "odds": Decimal("2.5"),
                "outcomes": [{"criterial": "1X2", "outcome": "1", "odds": Decimal("2.5")}],
            }
        ],
    },
    "money_transaction": {
        "playerId": "p-1",
        "transactionId": "mt-1",
        "transactionType": "DEPOSIT",
        "transactionStatus": "APPROVED",
        "amount": Decimal("100"),
        "currency": "EUR",
        "exchangeRate": 1,
        "date": _WHEN,
        "realMoneyBalance": Decimal("100"),
        "bonusMoneyBalance": 0,
        "paymentMethod": "card",
    },
    "bonus_granted": {
        "playerId": "p-1",
        "transactionId": "bg-1",
        "bonusOfferId": "WELCOME100",
        "amount": Decimal("50"),
        "currency": "EUR",
        "exchangeRate": 1,
        "date": _WHEN,
    },
    "balance_update": {
        "playerId": "p-1",
        "realMoneyBalance": Decimal("100"),
        "bonusMoneyBalance": Decimal("50"),
        "currency": "EUR",
        "date": _WHEN,
    },
    "player_registration": {"playerId": "p-1", "registrationDevice": "mobile", "date": _WHEN},
    "player_login": {"playerId": "p-1", "date": _WHEN},
    "player_logout": {"playerId": "p-1", "date": _WHEN},
    "player_update": {"firstName": "Ana", "lastName": None},
    "player_create": {"playerId": "p-1", **_PROFILE},
    "player_delete": None,
    "player_tags": {"playerId": "p-1", "tags": ["vip"]},
    "player_marketing_preferences": {
        "playerId": "p-1",
        "channels": {"email": True, "sms": False},
        "date": _WHEN,
    },
    "player_verification": {
        "playerId": "p-1",
        "verificationType": "KYC",
        "verificationStatus": "VERIFIED",
        "date": _WHEN,
    },
    "player_unsubscribe": {"playerId": "p-1", "campaignId": "c-1", "reason": "spam", "date": _WHEN},
    "crm_trigger": {
        "eventName": "reset-password",
        "playerId": "p-1",
        "eventDate": _WHEN,
        "payload": [{"key": "link", "type": "string", "value": "https://example.com/r/1"}],
        "delay": {"duration": "PT5M"},
        "keepCounter": True,
    },
    "bonus_offer_upsert": {
        "name": "Welcome 100%",
        "bonusType": "DEPOSIT_MATCH",
        "status": "ACTIVE",
    },
    "bonus_offer_delete": None,
    "players_migration_batch": {"players": [{"playerId": "p-1", **_PROFILE}, {"playerId": "p-2"}]},
}

# Path parameters for the endpoints that take them.
PATH_PARAMS: dict[str, dict[str, str]] = {
    "player_update": {"playerId": "p-1"},
    "player_delete": {"playerId": "p-1"},
    "bonus_offer_upsert": {"bonusOfferId": "WELCOME100"},
    "bonus_offer_delete": {"bonusOfferId": "WELCOME100"},
}


def example(message_type: str) -> Any:
    """Return a fresh copy of the example payload (safe to mutate). KeyError if unknown."""
    return copy.deepcopy(_EXAMPLES[message_type])
