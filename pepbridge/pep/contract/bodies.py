"""The request bodies of PEP's Platform API (platform-api.md), or our documented choice where
PEP has published none (docs/contract.md). Each spec carries its [DOC]/[PEER]/[INF] source.

Every field is one line: our name for it (attr), then PEP's wire name. Builders, the sandbox's
examples, the profile mapping and the rules below speak attrs, so this file is the only place a
wire name is written (docs/contract.md, "One source per wire format").
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
_EVENT_NAME_HINT = "letters, digits, - and _ only"


# --- field helpers: (attr, wire name, ...) ------------------------------------------------------


def _s(attr: str, name: str, required: bool = True, **kw: Any) -> Field:
    return Field(attr, name, "string", required, **kw)


def _id(attr: str, name: str, required: bool = True) -> Field:
    return Field(attr, name, "string", required, blank=False)


def _amount(attr: str, name: str, required: bool = True) -> Field:
    return Field(attr, name, "number", required, minimum=Decimal(0))


def _num(attr: str, name: str, required: bool = True) -> Field:
    return Field(attr, name, "number", required)


def _rate(attr: str, name: str) -> Field:
    return Field(attr, name, "number", minimum=Decimal(0), exclusive_minimum=True)


def _currency(attr: str, name: str, required: bool = True, nullable: bool = False) -> Field:
    hint = "must be 3 upper-case letters (ISO 4217)"
    return Field(
        attr, name, "string", required, pattern=_CURRENCY, pattern_hint=hint, nullable=nullable
    )


def _country(attr: str, name: str) -> Field:
    hint = "must be 2 upper-case letters (ISO 3166-1)"
    return Field(attr, name, "string", False, pattern=_COUNTRY, pattern_hint=hint, nullable=True)


def _dt(attr: str, name: str, required: bool = True, nullable: bool = False) -> Field:
    return Field(attr, name, "datetime", required, nullable=nullable)


def _enum(attr: str, name: str, *choices: str, required: bool = True) -> Field:
    return Field(attr, name, "enum", required, choices=choices)


def _bool(attr: str, name: str, required: bool = False, nullable: bool = False) -> Field:
    return Field(attr, name, "boolean", required, nullable=nullable)


def _profile(attr: str, name: str, type_: str = "string") -> Field:
    """A profile field: optional, and null means "clear it" in a PATCH."""
    return Field(attr, name, type_, False, nullable=True)


# --- cross-field rules: they name fields by attr, through the spec they belong to --------------


def _positive(value: Any) -> bool:
    return isinstance(value, int | Decimal) and not isinstance(value, bool) and value > 0


def _some_amount_positive(spec: Spec, payload: Mapping[str, Any]) -> Errors:
    """[DOC] at least one of the real and bonus money amounts must be > 0."""
    real, bonus = spec.wire("real_money_amount"), spec.wire("bonus_money_amount")
    if _positive(payload.get(real)) or _positive(payload.get(bonus)):
        return {}
    message = f"{real} or {bonus} must be greater than 0"
    return {real: [message], bonus: [message]}


def _sport_bet_amount_positive(spec: Spec, payload: Mapping[str, Any]) -> Errors:
    """A stake must be > 0; a settlement of a lost bet legitimately pays 0 (docs/contract.md)."""
    if payload.get(spec.wire("transaction_type")) != "BET":
        return {}
    return _some_amount_positive(spec, payload)


def _reference_on_settlement(spec: Spec, payload: Mapping[str, Any]) -> Errors:
    """[PEER] SETTLEMENT and CASHOUT point at the original BET's transaction id."""
    if payload.get(spec.wire("transaction_type")) not in ("SETTLEMENT", "CASHOUT"):
        return {}
    name = spec.wire("transaction_id_reference")
    reference = payload.get(name)
    if isinstance(reference, str) and reference.strip():
        return {}
    kind = spec.wire("transaction_type")
    return {name: [f"required when {kind} is SETTLEMENT or CASHOUT"]}


def _one_player_per_round(spec: Spec, payload: Mapping[str, Any]) -> Errors:
    """[DOC] one request carries one player's round."""
    name = spec.wire("game_transaction_round")
    rows = payload.get(name)
    if not isinstance(rows, list):
        return {}
    player = spec.item("game_transaction_round").wire("player_id")
    ids = {row.get(player) for row in rows if isinstance(row, Mapping)}
    if len(ids) > 1:
        return {name: [f"all transactions of a round must have the same {player}"]}
    return {}


def _not_empty(spec: Spec, payload: Mapping[str, Any]) -> Errors:
    if payload:
        return {}
    return {"": ["must contain at least one property"]}


def _some_channel(spec: Spec, payload: Mapping[str, Any]) -> Errors:
    if any(item.name in payload for item in spec.fields):
        return {}
    return {"": ["must name at least one channel"]}


def _player_or_external(spec: Spec, payload: Mapping[str, Any]) -> Errors:
    """[DOC] a trigger goes to a registered player or, via `external`, to someone who is not."""
    player, external = spec.wire("player_id"), spec.wire("external")
    if payload.get(player) or payload.get(external):
        return {}
    return {player: [f"{player} or {external} is required"]}


# The statuses of a casino and a money transaction [DOC].
_TX_STATUSES = ("APPROVED", "REJECTED", "PENDING", "CANCELED")


# --- body specs -------------------------------------------------------------------------------

_GAME_TRANSACTION = Spec(
    fields=(
        _id("player_id", "playerId"),
        _id("transaction_id", "transactionId"),
        _enum("transaction_type", "transactionType", "BET", "WIN"),
        _enum("transaction_status", "transactionStatus", *_TX_STATUSES),
        _amount("real_money_amount", "realMoneyAmount"),
        _amount("bonus_money_amount", "bonusMoneyAmount"),
        _currency("currency", "currency"),
        _rate("exchange_rate", "exchangeRate"),
        _dt("date", "date"),
        _num("real_money_balance", "realMoneyBalance"),
        _num("bonus_money_balance", "bonusMoneyBalance"),
        _id("game_id", "gameId"),
        _s("game_name", "gameName"),
        _id("game_category_id", "gameCategoryId"),
        _s("game_category_name", "gameCategoryName"),
        _id("game_provider_id", "gameProviderId"),
        _s("game_provider_name", "gameProviderName"),
        _id("game_session_id", "gameSessionId"),
        _amount("bet_amount", "betAmount", required=False),
        _s("player_ip", "playerIp", required=False),
        _s("category_provider_id", "categoryProviderId", required=False),
    ),
    rules=(_some_amount_positive,),
)
GAME_ROUND = Spec(
    fields=(
        Field(
            "game_transaction_round",
            "gameTransactionRound",
            "array",
            spec=_GAME_TRANSACTION,
            min_items=1,
        ),
    ),
    rules=(_one_player_per_round,),
)

_OUTCOME = Spec(
    fields=(
        _s("sport_name", "sportName", required=False),
        _s("tournament_name", "tournamentName", required=False),
        _num("odds", "odds", required=False),
        _s("criterial", "criterial", required=False),
        _s("outcome", "outcome", required=False),
    )
)

_BET = Spec(
    fields=(
        _s("event_name", "eventName"),
        Field("teams", "teams", "array", False, items="string"),
        _s("market", "market", required=False),
        _dt("match_date", "matchDate"),
        Field("outcomes", "outcomes", "array", False, spec=_OUTCOME),
        _s("sport_name", "sportName", required=False),
        _s("tournament_name", "tournamentName", required=False),
        _num("odds", "odds", required=False),
    )
)

SPORT_TRANSACTION = Spec(
    fields=(
        _id("player_id", "playerId"),
        _id("transaction_id", "transactionId"),
        _s("transaction_id_reference", "transactionIdReference", required=False),
        _enum("transaction_type", "transactionType", "BET", "SETTLEMENT", "CASHOUT"),
        _enum("transaction_status", "transactionStatus", "APPROVED"),
        _amount("real_money_amount", "realMoneyAmount"),
        _amount("bonus_money_amount", "bonusMoneyAmount"),
        _currency("currency", "currency"),
        _rate("exchange_rate", "exchangeRate"),
        _dt("date", "date"),
        _num("real_money_balance_before", "realMoneyBalanceBefore", required=False),
        _num("real_money_balance", "realMoneyBalance"),
        _num("bonus_money_balance_before", "bonusMoneyBalanceBefore", required=False),
        _num("bonus_money_balance", "bonusMoneyBalance"),
        Field("bet", "bet", "array", spec=_BET),
    ),
    rules=(_reference_on_settlement, _sport_bet_amount_positive),
)

MONEY_TRANSACTION = Spec(
    fields=(
        _id("player_id", "playerId"),
        _id("transaction_id", "transactionId"),
        _enum(
            "transaction_type",
            "transactionType",
            "DEPOSIT",
            "WITHDRAW",
            "MANUAL_CREDIT",
            "MANUAL_DEBIT",
        ),
        _enum("transaction_status", "transactionStatus", *_TX_STATUSES),
        _amount("amount", "amount"),
        _currency("currency", "currency"),
        _rate("exchange_rate", "exchangeRate"),
        _dt("date", "date"),
        _num("real_money_balance", "realMoneyBalance"),
        _num("bonus_money_balance", "bonusMoneyBalance"),
        _s("payment_method", "paymentMethod", required=False),
        _s("payment_provider", "paymentProvider", required=False),
        _s("card_type", "cardType", required=False),
        _s("card_company", "cardCompany", required=False),
        _s("player_ip", "playerIp", required=False),
        _s("manual_category", "manualCategory", required=False),
    )
)

# [UNKNOWN] upstream: our choice, modelled on the money event (docs/contract.md).
BONUS_GRANTED = Spec(
    fields=(
        _id("player_id", "playerId"),
        _id("transaction_id", "transactionId"),
        _id("bonus_offer_id", "bonusOfferId"),
        _s("bonus_offer_name", "bonusOfferName", required=False),
        _amount("amount", "amount"),
        _currency("currency", "currency"),
        _rate("exchange_rate", "exchangeRate"),
        _dt("date", "date"),
        _num("real_money_balance", "realMoneyBalance", required=False),
        _num("bonus_money_balance", "bonusMoneyBalance", required=False),
    )
)

BALANCE_UPDATE = Spec(
    fields=(
        _id("player_id", "playerId"),
        _num("real_money_balance", "realMoneyBalance"),
        _num("bonus_money_balance", "bonusMoneyBalance"),
        _currency("currency", "currency"),
        _dt("date", "date"),
    )
)

PLAYER_EVENT = Spec(fields=(_id("player_id", "playerId"), _dt("date", "date")))

REGISTRATION = Spec(
    fields=(
        _id("player_id", "playerId"),
        _id("registration_device", "registrationDevice"),
        _dt("date", "date"),
    )
)

# [INF] until PEP's schema arrives. The attrs are players.models.Player's field names: this tuple
# is the one list of profile fields (events.messages.players.PROFILE_WIRE_NAMES is read from it).
PROFILE_FIELDS: tuple[Field, ...] = (
    _profile("username", "username"),
    _profile("first_name", "firstName"),
    _profile("last_name", "lastName"),
    _profile("email", "email"),
    _profile("phone", "phone"),
    _profile("gender", "gender"),
    _profile("birth_date", "birthDate", "date"),
    _country("country", "country"),
    _profile("city", "city"),
    _profile("language", "language"),
    _currency("currency", "currency", required=False, nullable=True),
    _profile("brand_id", "brandId"),
    _profile("registration_date", "registrationDate", "datetime"),
    _profile("registration_device", "registrationDevice"),
    _profile("account_status", "accountStatus"),
    _profile("self_excluded", "selfExcluded", "boolean"),
    _profile("self_excluded_until", "selfExcludedUntil", "datetime"),
    _profile("cool_off_until", "coolOffUntil", "datetime"),
    _profile("at_risk", "atRisk", "boolean"),
)

# Open: PEP's player schema is unknown, so extra properties pass; known ones are type-checked.
PLAYER_PATCH = Spec(fields=PROFILE_FIELDS, rules=(_not_empty,), closed=False)
PLAYER_RECORD = Spec(fields=(_id("player_id", "playerId"), *PROFILE_FIELDS), closed=False)

TAGS = Spec(
    fields=(
        _id("player_id", "playerId"),
        Field("tags", "tags", "array", items="string", min_items=1),
    )
)

# The attrs are players.models.ConsentChannel's values.
_CHANNELS = Spec(
    fields=(
        _bool("email", "email"),
        _bool("sms", "sms"),
        _bool("push", "push"),
        _bool("phone", "phone"),
        _bool("on_site", "onSite"),
    ),
    rules=(_some_channel,),
)
MARKETING_PREFERENCES = Spec(
    fields=(
        _id("player_id", "playerId"),
        Field("channels", "channels", "object", spec=_CHANNELS),
        _dt("date", "date"),
    )
)

VERIFICATION = Spec(
    fields=(
        _id("player_id", "playerId"),
        _enum(
            "verification_type", "verificationType", "KYC", "ACCOUNT_ACTIVATION", "EMAIL", "PHONE"
        ),
        _enum("verification_status", "verificationStatus", "VERIFIED", "REJECTED", "PENDING"),
        _dt("date", "date"),
    )
)

UNSUBSCRIBE = Spec(
    fields=(
        _id("player_id", "playerId"),
        _id("campaign_id", "campaignId"),
        _s("reason", "reason", required=False),
        _dt("date", "date"),
    )
)

_TRIGGER_PAYLOAD_ITEM = Spec(
    fields=(
        _id("key", "key"),
        _enum("type", "type", "string", "number", "boolean", "date"),
        Field("value", "value", "any"),
    )
)
_DELAY = Spec(
    fields=(
        _s("duration", "duration", pattern=_DURATION, pattern_hint="must be an ISO-8601 duration"),
    )
)
CRM_TRIGGER = Spec(
    fields=(
        _s("event_name", "eventName", pattern=_EVENT_NAME, pattern_hint=_EVENT_NAME_HINT),
        _id("player_id", "playerId", required=False),
        _s("version", "version", required=False),
        _dt("event_date", "eventDate"),
        Field("payload", "payload", "array", False, spec=_TRIGGER_PAYLOAD_ITEM),
        Field("external", "external", "object", False, spec=Spec(fields=(), closed=False)),
        Field("delay", "delay", "object", False, spec=_DELAY),
        _bool("keep_counter", "keepCounter"),
    ),
    rules=(_player_or_external,),
)

# [UNKNOWN] upstream: our choice (docs/contract.md).
BONUS_OFFER = Spec(
    fields=(
        _id("name", "name"),
        _s("description", "description", required=False),
        _id("bonus_type", "bonusType"),
        _enum("status", "status", "ACTIVE", "INACTIVE"),
        _amount("amount", "amount", required=False),
        _currency("currency", "currency", required=False),
        _dt("valid_from", "validFrom", required=False),
        _dt("valid_to", "validTo", required=False),
    )
)

MIGRATION_BATCH_MAX = 20_000  # [DOC] recommended chunk size
MIGRATION_BATCH = Spec(
    fields=(
        Field(
            "players",
            "players",
            "array",
            spec=PLAYER_RECORD,
            min_items=1,
            max_items=MIGRATION_BATCH_MAX,
        ),
    )
)

TOKEN = Spec(fields=(_id("client_id", "clientId"), _id("client_secret", "clientSecret")))
