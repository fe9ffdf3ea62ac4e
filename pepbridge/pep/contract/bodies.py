"""The request bodies of PEP's Platform API (platform-api.md), or our documented choice where
PEP has published none (docs/contract.md). Each spec carries its [DOC]/[PEER]/[INF] source.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pepbridge.pep.contract.spec import Errors, Field, Spec

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_DURATION = re.compile(
    r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$"
)
_EVENT_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


# --- field helpers ----------------------------------------------------------------------------


def _s(name: str, required: bool = True, **kw: Any) -> Field:
    return Field(name, "string", required, **kw)


def _id(name: str, required: bool = True) -> Field:
    return Field(name, "string", required, blank=False)


def _amount(name: str, required: bool = True) -> Field:
    return Field(name, "number", required, minimum=Decimal(0))


def _num(name: str, required: bool = True) -> Field:
    return Field(name, "number", required)


def _rate(name: str = "exchangeRate") -> Field:
    return Field(name, "number", minimum=Decimal(0), exclusive_minimum=True)


def _currency(name: str = "currency", required: bool = True, nullable: bool = False) -> Field:
    hint = "must be 3 upper-case letters (ISO 4217)"
    return Field(name, "string", required, pattern=_CURRENCY, pattern_hint=hint, nullable=nullable)


def _dt(name: str = "date", required: bool = True, nullable: bool = False) -> Field:
    return Field(name, "datetime", required, nullable=nullable)


def _enum(name: str, *choices: str, required: bool = True) -> Field:
    return Field(name, "enum", required, choices=choices)


def _bool(name: str, required: bool = False) -> Field:
    return Field(name, "boolean", required)


# --- cross-field rules ------------------------------------------------------------------------


def _positive(value: Any) -> bool:
    return isinstance(value, int | Decimal) and not isinstance(value, bool) and value > 0


def _some_amount_positive(payload: Mapping[str, Any]) -> Errors:
    """[DOC] at least one of realMoneyAmount / bonusMoneyAmount must be > 0."""
    if _positive(payload.get("realMoneyAmount")) or _positive(payload.get("bonusMoneyAmount")):
        return {}
    message = "realMoneyAmount or bonusMoneyAmount must be greater than 0"
    return {"realMoneyAmount": [message], "bonusMoneyAmount": [message]}


def _sport_bet_amount_positive(payload: Mapping[str, Any]) -> Errors:
    """A stake must be > 0; a settlement of a lost bet legitimately pays 0 (docs/contract.md)."""
    if payload.get("transactionType") != "BET":
        return {}
    return _some_amount_positive(payload)


def _reference_on_settlement(payload: Mapping[str, Any]) -> Errors:
    """[PEER] SETTLEMENT and CASHOUT point at the original BET's transactionId."""
    if payload.get("transactionType") not in ("SETTLEMENT", "CASHOUT"):
        return {}
    reference = payload.get("transactionIdReference")
    if isinstance(reference, str) and reference.strip():
        return {}
    return {"transactionIdReference": ["required when transactionType is SETTLEMENT or CASHOUT"]}


def _one_player_per_round(payload: Mapping[str, Any]) -> Errors:
    """[DOC] one request carries one player's round."""
    rows = payload.get("gameTransactionRound")
    if not isinstance(rows, list):
        return {}
    ids = {row.get("playerId") for row in rows if isinstance(row, Mapping)}
    if len(ids) > 1:
        return {"gameTransactionRound": ["all transactions of a round must have the same playerId"]}
    return {}


def _not_empty(payload: Mapping[str, Any]) -> Errors:
    if payload:
        return {}
    return {"": ["must contain at least one property"]}


def _some_channel(payload: Mapping[str, Any]) -> Errors:
    if any(name in payload for name in ("email", "sms", "push", "phone", "onSite")):
        return {}
    return {"": ["must name at least one channel"]}


def _player_or_external(payload: Mapping[str, Any]) -> Errors:
    """[DOC] a trigger goes to a registered player or, via `external`, to someone who is not."""
    if payload.get("playerId") or payload.get("external"):
        return {}
    return {"playerId": ["playerId or external is required"]}


# --- body specs -------------------------------------------------------------------------------

_GAME_TRANSACTION = Spec(
    fields=(
        _id("playerId"),
        _id("transactionId"),
        _enum("transactionType", "BET", "WIN"),
        _enum("transactionStatus", "APPROVED", "REJECTED", "PENDING", "CANCELED"),
        _amount("realMoneyAmount"),
        _amount("bonusMoneyAmount"),
        _currency(),
        _rate(),
        _dt(),
        _num("realMoneyBalance"),
        _num("bonusMoneyBalance"),
        _id("gameId"),
        _s("gameName"),
        _id("gameCategoryId"),
        _s("gameCategoryName"),
        _id("gameProviderId"),
        _s("gameProviderName"),
        _id("gameSessionId"),
        _amount("betAmount", required=False),
        _s("playerIp", required=False),
        _s("categoryProviderId", required=False),
    ),
    rules=(_some_amount_positive,),
)
GAME_ROUND = Spec(
    fields=(Field("gameTransactionRound", "array", spec=_GAME_TRANSACTION, min_items=1),),
    rules=(_one_player_per_round,),
)

_OUTCOME = Spec(
    fields=(
        _s("sportName", required=False),
        _s("tournamentName", required=False),
        _num("odds", required=False),
        _s("criterial", required=False),
        _s("outcome", required=False),
    )
)

_BET = Spec(
    fields=(
        _s("eventName"),
        Field("teams", "array", False, items="string"),
        _s("market", required=False),
        _dt("matchDate"),
        Field("outcomes", "array", False, spec=_OUTCOME),
        _s("sportName", required=False),
        _s("tournamentName", required=False),
        _num("odds", required=False),
    )
)

SPORT_TRANSACTION = Spec(
    fields=(
        _id("playerId"),
        _id("transactionId"),
        _s("transactionIdReference", required=False),
        _enum("transactionType", "BET", "SETTLEMENT", "CASHOUT"),
        _enum("transactionStatus", "APPROVED"),
        _amount("realMoneyAmount"),
        _amount("bonusMoneyAmount"),
        _currency(),
        _rate(),
        _dt(),
        _num("realMoneyBalanceBefore", required=False),
        _num("realMoneyBalance"),
        _num("bonusMoneyBalanceBefore", required=False),
        _num("bonusMoneyBalance"),
        Field("bet", "array", spec=_BET),
    ),
    rules=(_reference_on_settlement, _sport_bet_amount_positive),
)

MONEY_TRANSACTION = Spec(
    fields=(
        _id("playerId"),
        _id("transactionId"),
        _enum("transactionType", "DEPOSIT", "WITHDRAW", "MANUAL_CREDIT", "MANUAL_DEBIT"),
        _enum("transactionStatus", "APPROVED", "REJECTED", "PENDING", "CANCELED"),
        _amount("amount"),
        _currency(),
        _rate(),
        _dt(),
        _num("realMoneyBalance"),
        _num("bonusMoneyBalance"),
        _s("paymentMethod", required=False),
        _s("paymentProvider", required=False),
        _s("cardType", required=False),
        _s("cardCompany", required=False),
        _s("playerIp", required=False),
        _s("manualCategory", required=False),
    )
)

# [UNKNOWN] upstream: our choice, modelled on the money event (docs/contract.md).
BONUS_GRANTED = Spec(
    fields=(
        _id("playerId"),
        _id("transactionId"),
        _id("bonusOfferId"),
        _s("bonusOfferName", required=False),
        _amount("amount"),
        _currency(),
        _rate(),
        _dt(),
        _num("realMoneyBalance", required=False),
        _num("bonusMoneyBalance", required=False),
    )
)

BALANCE_UPDATE = Spec(
    fields=(
        _id("playerId"),
        _num("realMoneyBalance"),
        _num("bonusMoneyBalance"),
        _currency(),
        _dt(),
    )
)

PLAYER_EVENT = Spec(fields=(_id("playerId"), _dt()))

REGISTRATION = Spec(fields=(_id("playerId"), _id("registrationDevice"), _dt()))


def _profile_fields() -> tuple[Field, ...]:
    """[INF] profile fields until PEP's schema arrives; null clears a field in a PATCH."""
    text = ("username", "firstName", "lastName", "email", "phone", "gender", "city", "language")
    fields = [Field(name, "string", False, nullable=True) for name in text]
    hint = "must be 2 upper-case letters (ISO 3166-1)"
    fields += [
        Field("birthDate", "date", False, nullable=True),
        Field("country", "string", False, pattern=_COUNTRY, pattern_hint=hint, nullable=True),
        _currency(required=False, nullable=True),
        _dt("registrationDate", required=False, nullable=True),
        Field("accountStatus", "string", False, nullable=True),
    ]
    return tuple(fields)


# Open: PEP's player schema is unknown, so extra properties pass; known ones are type-checked.
PLAYER_PATCH = Spec(fields=_profile_fields(), rules=(_not_empty,), closed=False)
PLAYER_RECORD = Spec(fields=(_id("playerId"), *_profile_fields()), closed=False)

TAGS = Spec(fields=(_id("playerId"), Field("tags", "array", items="string", min_items=1)))

_CHANNELS = Spec(
    fields=tuple(_bool(name) for name in ("email", "sms", "push", "phone", "onSite")),
    rules=(_some_channel,),
)
MARKETING_PREFERENCES = Spec(
    fields=(_id("playerId"), Field("channels", "object", spec=_CHANNELS), _dt())
)

VERIFICATION = Spec(
    fields=(
        _id("playerId"),
        _enum("verificationType", "KYC", "ACCOUNT_ACTIVATION", "EMAIL", "PHONE"),
        _enum("verificationStatus", "VERIFIED", "REJECTED", "PENDING"),
        _dt(),
    )
)

UNSUBSCRIBE = Spec(fields=(_id("playerId"), _id("campaignId"), _s("reason", required=False), _dt()))

_TRIGGER_PAYLOAD_ITEM = Spec(
    fields=(
        _id("key"),
        _enum("type", "string", "number", "boolean", "date"),
        Field("value", "any"),
    )
)
_DELAY = Spec(
    fields=(_s("duration", pattern=_DURATION, pattern_hint="must be an ISO-8601 duration"),)
)
CRM_TRIGGER = Spec(
    fields=(
        _s("eventName", pattern=_EVENT_NAME, pattern_hint="letters, digits, - and _ only"),
        _id("playerId", required=False),
        _s("version", required=False),
        _dt("eventDate"),
        Field("payload", "array", False, spec=_TRIGGER_PAYLOAD_ITEM),
        Field("external", "object", False, spec=Spec(fields=(), closed=False)),
        Field("delay", "object", False, spec=_DELAY),
        _bool("keepCounter"),
    ),
    rules=(_player_or_external,),
)

# [UNKNOWN] upstream: our choice (docs/contract.md).
BONUS_OFFER = Spec(
    fields=(
        _id("name"),
        _s("description", required=False),
        _id("bonusType"),
        _enum("status", "ACTIVE", "INACTIVE"),
        _amount("amount", required=False),
        _currency(required=False),
        _dt("validFrom", required=False),
        _dt("validTo", required=False),
    )
)

MIGRATION_BATCH_MAX = 20_000  # [DOC] recommended chunk size
MIGRATION_BATCH = Spec(
    fields=(
        Field("players", "array", spec=PLAYER_RECORD, min_items=1, max_items=MIGRATION_BATCH_MAX),
    )
)

TOKEN = Spec(fields=(_id("clientId"), _id("clientSecret")))
