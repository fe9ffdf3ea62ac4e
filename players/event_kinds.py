"""The event kinds the operator's platform may send, as serializers plus a builder call each.

Field names follow PEP's wire names (camelCase) wherever PEP has one, so an operator who reads
PEP's documentation recognises them. Serializers translate and check single values; the
builders in `events.messages` apply PEP's rules (one amount above zero, exchange rates, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from rest_framework import serializers

from events.messages import (
    BalanceUpdateInput,
    BonusGrantedInput,
    CrmTriggerInput,
    GameRoundInput,
    GameTransaction,
    MoneyTransactionInput,
    SportSelection,
    SportTransactionInput,
    build_balance_update,
    build_bonus_granted,
    build_crm_trigger,
    build_money_transaction,
    build_player_login,
    build_player_logout,
    build_sport_transaction,
)
from events.outbox import PepMessage
from players import validators
from players.serializers import AwareDateTimeField, PlayerIdField, flatten_errors

STATUSES = ("APPROVED", "REJECTED", "PENDING", "CANCELED")
_ID: dict[str, Any] = {"max_length": 128}


def _amount(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=24, decimal_places=8, **kwargs)


def _player_id() -> PlayerIdField:
    return PlayerIdField(source="player_id")


def _currency() -> serializers.CharField:
    return serializers.CharField(max_length=3, validators=[validators.validate_currency])


def _date(source: str = "occurred_at") -> AwareDateTimeField:
    return AwareDateTimeField(source=source, validators=[validators.validate_not_future])


class GameTransactionSerializer(serializers.Serializer):
    transactionId = serializers.CharField(source="transaction_id", **_ID)
    transactionType = serializers.ChoiceField(source="transaction_type", choices=("BET", "WIN"))
    transactionStatus = serializers.ChoiceField(
        source="status", choices=STATUSES, default="APPROVED"
    )
    realMoneyAmount = _amount(source="real_amount", min_value=0)
    bonusMoneyAmount = _amount(source="bonus_amount", min_value=0)
    realMoneyBalance = _amount(source="real_balance")
    bonusMoneyBalance = _amount(source="bonus_balance")
    date = _date()
    betAmount = _amount(source="bet_amount", min_value=0, required=False)


class CasinoRoundSerializer(serializers.Serializer):
    """One casino round: its BET and, when known, its WIN (PEP wants them together)."""

    playerId = _player_id()
    roundId = serializers.CharField(source="round_id", **_ID)
    currency = _currency()
    exchangeRate = _amount(source="exchange_rate", required=False)
    gameId = serializers.CharField(source="game_id", **_ID)
    gameName = serializers.CharField(source="game_name", max_length=200)
    gameCategoryId = serializers.CharField(source="game_category_id", **_ID)
    gameCategoryName = serializers.CharField(source="game_category_name", max_length=200)
    gameProviderId = serializers.CharField(source="game_provider_id", **_ID)
    gameProviderName = serializers.CharField(source="game_provider_name", max_length=200)
    gameSessionId = serializers.CharField(source="game_session_id", required=False, **_ID)
    playerIp = serializers.IPAddressField(source="player_ip", required=False)
    # many=True hands max_length to the ListSerializer; the stubs type only the child's kwargs.
    transactions = GameTransactionSerializer(  # type: ignore[call-arg]
        many=True, allow_empty=False, max_length=50
    )


class SelectionSerializer(serializers.Serializer):
    eventName = serializers.CharField(source="event_name", max_length=200)
    matchDate = AwareDateTimeField(source="match_date")
    teams = serializers.ListField(child=serializers.CharField(max_length=200), required=False)
    market = serializers.CharField(max_length=200, required=False)
    sportName = serializers.CharField(source="sport_name", max_length=100, required=False)
    tournamentName = serializers.CharField(source="tournament_name", max_length=200, required=False)
    odds = _amount(min_value=0, required=False)
    outcome = serializers.CharField(max_length=200, required=False)


class SportTransactionSerializer(serializers.Serializer):
    playerId = _player_id()
    transactionId = serializers.CharField(source="transaction_id", **_ID)
    transactionType = serializers.ChoiceField(
        source="transaction_type", choices=("BET", "SETTLEMENT", "CASHOUT")
    )
    transactionStatus = serializers.ChoiceField(
        source="status", choices=STATUSES, default="APPROVED"
    )
    transactionIdReference = serializers.CharField(
        source="bet_transaction_id", required=False, **_ID
    )
    realMoneyAmount = _amount(source="real_amount", min_value=0)
    bonusMoneyAmount = _amount(source="bonus_amount", min_value=0)
    currency = _currency()
    exchangeRate = _amount(source="exchange_rate", required=False)
    date = _date()
    realMoneyBalance = _amount(source="real_balance")
    bonusMoneyBalance = _amount(source="bonus_balance")
    realMoneyBalanceBefore = _amount(source="real_balance_before", required=False)
    bonusMoneyBalanceBefore = _amount(source="bonus_balance_before", required=False)
    bet = SelectionSerializer(  # type: ignore[call-arg]  # max_length: as `transactions` above
        source="selections", many=True, required=False, max_length=100
    )


class MoneyTransactionSerializer(serializers.Serializer):
    playerId = _player_id()
    transactionId = serializers.CharField(source="transaction_id", **_ID)
    transactionType = serializers.ChoiceField(
        source="transaction_type",
        choices=("DEPOSIT", "WITHDRAW", "MANUAL_CREDIT", "MANUAL_DEBIT"),
    )
    transactionStatus = serializers.ChoiceField(source="status", choices=STATUSES)
    amount = _amount(min_value=0)
    currency = _currency()
    exchangeRate = _amount(source="exchange_rate", required=False)
    date = _date()
    realMoneyBalance = _amount(source="real_balance")
    bonusMoneyBalance = _amount(source="bonus_balance")
    paymentMethod = serializers.CharField(source="payment_method", max_length=100, required=False)
    paymentProvider = serializers.CharField(
        source="payment_provider", max_length=100, required=False
    )
    cardType = serializers.CharField(source="card_type", max_length=50, required=False)
    cardCompany = serializers.CharField(source="card_company", max_length=50, required=False)
    playerIp = serializers.IPAddressField(source="player_ip", required=False)
    manualCategory = serializers.CharField(source="manual_category", max_length=100, required=False)


class BalanceUpdateSerializer(serializers.Serializer):
    playerId = _player_id()
    realMoneyBalance = _amount(source="real_balance")
    bonusMoneyBalance = _amount(source="bonus_balance")
    currency = _currency()
    date = _date()


class PlayerSessionSerializer(serializers.Serializer):
    """A login or a logout: who, and when."""

    playerId = _player_id()
    date = _date()


class BonusGrantedSerializer(serializers.Serializer):
    """A bonus the operator's own platform granted (the bridge's own grants go by bonuses/)."""

    playerId = _player_id()
    transactionId = serializers.CharField(source="grant_id", **_ID)
    bonusOfferId = serializers.CharField(source="bonus_offer_id", **_ID)
    bonusOfferName = serializers.CharField(
        source="bonus_offer_name", max_length=200, required=False
    )
    amount = _amount(min_value=0)
    currency = _currency()
    exchangeRate = _amount(source="exchange_rate", required=False)
    date = _date()
    realMoneyBalance = _amount(source="real_balance", required=False)
    bonusMoneyBalance = _amount(source="bonus_balance", required=False)


class CrmTriggerSerializer(serializers.Serializer):
    """A named CRM trigger; `eventId` makes a resend of the same firing one message."""

    eventId = serializers.CharField(source="trigger_id", required=False, **_ID)
    eventName = serializers.RegexField(r"^[A-Za-z0-9_-]{1,100}$", source="event_name")
    playerId = _player_id()
    date = _date()
    version = serializers.CharField(max_length=20, required=False)
    payload = serializers.DictField(source="values", required=False)
    delaySeconds = serializers.IntegerField(
        source="delay_seconds", min_value=0, max_value=90 * 86_400, required=False
    )
    keepCounter = serializers.BooleanField(source="keep_counter", default=False)

    def validate_payload(self, value: dict[str, Any]) -> dict[str, Any]:
        for key, item in value.items():
            # The ingestion API reads fractions as Decimal (ExactJSONParser); Python callers
            # may pass floats. Both are numbers the docs allow.
            if isinstance(item, float | Decimal):
                value[key] = serializers.DecimalField(
                    max_digits=24, decimal_places=8
                ).to_internal_value(str(item))
            elif item is not None and not isinstance(item, str | bool | int):
                raise serializers.ValidationError(
                    f"{key}: only strings, numbers and booleans are allowed."
                )
        return value


def _crm_input(data: Mapping[str, Any]) -> CrmTriggerInput:
    values = dict(data)
    seconds = values.pop("delay_seconds", None)
    delay = timedelta(seconds=seconds) if seconds else None
    return CrmTriggerInput(**values, delay=delay)


def _round_input(data: Mapping[str, Any]) -> GameRoundInput:
    values = dict(data)
    transactions = tuple(GameTransaction(**tx) for tx in values.pop("transactions"))
    return GameRoundInput(**values, transactions=transactions)


def _sport_input(data: Mapping[str, Any]) -> SportTransactionInput:
    values = dict(data)
    legs = tuple(
        SportSelection(**{**leg, "teams": tuple(leg.get("teams", ()))})
        for leg in values.pop("selections", ())
    )
    return SportTransactionInput(**values, selections=legs)


def _rename(prefixes: Mapping[str, str]) -> Callable[[Mapping[str, list[str]]], dict]:
    """Builder errors use PEP's names; give them back under the operator's input names."""

    def rename(errors: Mapping[str, list[str]]) -> dict[str, list[str]]:
        out = {}
        for field, messages in errors.items():
            for wire, ours in prefixes.items():
                if field.startswith(wire):
                    field = ours + field[len(wire) :]
                    break
            out[field] = list(messages)
        return out

    return rename


_SAME = _rename({})


@dataclass(frozen=True)
class EventKind:
    """What the ingestion API does with one event type: validate, key, build its message.

    Casino rounds are built from `round_input` (never from `build`): the round is settled per
    transaction first and may be rebuilt with only the new ones (players.event_rounds).
    """

    serializer: type[serializers.Serializer]
    key: Callable[[Mapping[str, Any]], str | None]
    build: Callable[[Mapping[str, Any]], PepMessage | None] | None = None
    input_names: Callable[[Mapping[str, list[str]]], dict] = _SAME
    round_input: Callable[[Mapping[str, Any]], GameRoundInput] | None = None


EVENT_KINDS: dict[str, EventKind] = {
    "casino_round": EventKind(
        CasinoRoundSerializer,
        key=lambda d: d["round_id"],
        input_names=_rename({"gameTransactionRound.": "transactions."}),
        round_input=_round_input,
    ),
    "sport_transaction": EventKind(
        SportTransactionSerializer,
        key=lambda d: d["transaction_id"],
        build=lambda d: build_sport_transaction(_sport_input(d)),
    ),
    "money_transaction": EventKind(
        MoneyTransactionSerializer,
        key=lambda d: d["transaction_id"],
        build=lambda d: build_money_transaction(MoneyTransactionInput(**d)),
    ),
    "balance_update": EventKind(
        BalanceUpdateSerializer,
        key=lambda d: None,
        build=lambda d: build_balance_update(BalanceUpdateInput(**d)),
    ),
    "login": EventKind(
        PlayerSessionSerializer,
        key=lambda d: None,
        build=lambda d: build_player_login(d["player_id"], d["occurred_at"]),
    ),
    "logout": EventKind(
        PlayerSessionSerializer,
        key=lambda d: None,
        build=lambda d: build_player_logout(d["player_id"], d["occurred_at"]),
    ),
    "bonus_granted": EventKind(
        BonusGrantedSerializer,
        key=lambda d: d["grant_id"],
        build=lambda d: build_bonus_granted(BonusGrantedInput(**d)),
    ),
    "crm_trigger": EventKind(
        CrmTriggerSerializer,
        key=lambda d: d.get("trigger_id"),
        build=lambda d: build_crm_trigger(_crm_input(d)),
        input_names=_rename(
            {"eventDate": "date", "delay.duration": "delaySeconds", "values": "payload"}
        ),
    ),
}


__all__ = ["EVENT_KINDS", "EventKind", "flatten_errors"]
