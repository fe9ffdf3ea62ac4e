"""Builders for PEP's transactional events: casino round, sport, money, bonus granted, balance.

Choices where the contract is silent (platform-api.md §5, §12 item 9):

- A lost casino round (a WIN of 0 real and 0 bonus) cannot be sent: the contract wants at least one
  amount above 0 and a zero win does not count for missions anyway. Such WIN rows are dropped and
  the round goes out with its BET only. A round with nothing left to send (a lone zero WIN whose
  BET went out before) builds to None.
- A sports SETTLEMENT paying 0 (a lost bet) is sent: only a BET needs a positive stake, so that
  PEP sees the bet closed (docs/contract.md).
- Money transactions whose status is not APPROVED build to None, because PEP processes only
  APPROVED ones, unless settings.PEP_SEND_NON_APPROVED_MONEY is on.
- Dedup keys name what was actually sent (`game_round:<roundId>:<id>+<id>`), so a retried
  ingestion of the same thing is recognised. A round split over several events (BET first, then
  BET and WIN) is settled before the builder's message is written: players.event_rounds
  leaves out the transactions an earlier message of the round carried, so the second message
  holds only the WIN and PEP never gets a transaction twice.
  A balance snapshot is keyed by player and millisecond: two different snapshots of one player
  in the same millisecond are a conflict for the outbox, not two messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings

from events.messages.base import (
    Errors,
    amount,
    balance,
    exchange_rate,
    make_message,
    one_amount_positive,
    timestamp,
)
from events.outbox import PepMessage
from pepbridge.pep import contract

GAME_TYPES = ("BET", "WIN")
SPORT_TYPES = ("BET", "SETTLEMENT", "CASHOUT")
MONEY_TYPES = ("DEPOSIT", "WITHDRAW", "MANUAL_CREDIT", "MANUAL_DEBIT")
APPROVED = "APPROVED"

# The bodies' specs: error keys take their wire names from here (`.wire(attr)`).
_ROUND = contract.body_spec("game_round")
_ROW = _ROUND.item("game_transaction_round")
_SPORT = contract.body_spec("sport_transaction")
_LEG = _SPORT.item("bet")
_MONEY = contract.body_spec("money_transaction")
_GRANT = contract.body_spec("bonus_granted")
_BALANCE = contract.body_spec("balance_update")


@dataclass(frozen=True)
class GameTransaction:
    """One BET or WIN of a casino round; balances are the player's after the transaction."""

    transaction_id: str
    transaction_type: str
    real_amount: Decimal
    bonus_amount: Decimal
    real_balance: Decimal
    bonus_balance: Decimal
    occurred_at: datetime
    status: str = APPROVED
    bet_amount: Decimal | None = None


@dataclass(frozen=True)
class GameRoundInput:
    """A casino round: its game and the BET/WIN transactions known so far, in the order played.

    `game_session_id` defaults to the round id so that a rebuilt message is byte-identical.
    """

    player_id: str
    round_id: str
    currency: str
    game_id: str
    game_name: str
    game_category_id: str
    game_category_name: str
    game_provider_id: str
    game_provider_name: str
    transactions: tuple[GameTransaction, ...]
    game_session_id: str | None = None
    exchange_rate: Decimal | None = None
    player_ip: str | None = None
    category_provider_id: str | None = None


def _is_lost_win(tx: GameTransaction) -> bool:
    return tx.transaction_type == "WIN" and tx.real_amount == 0 and tx.bonus_amount == 0


def _game_row(
    errors: Errors, index: int, round_: GameRoundInput, tx: GameTransaction, rate: Decimal
) -> dict[str, Any]:
    """One `GameTransactionEvent`, by attr: `contract.wire_body` names it for PEP."""
    prefix = f"{_ROUND.wire('game_transaction_round')}.{index}."
    w = _ROW.wire
    real = amount(errors, prefix + w("real_money_amount"), tx.real_amount)
    bonus = amount(errors, prefix + w("bonus_money_amount"), tx.bonus_amount)
    one_amount_positive(errors, _ROW, prefix, real, bonus)
    if tx.transaction_type not in GAME_TYPES:
        errors.add(prefix + w("transaction_type"), f"must be one of {', '.join(GAME_TYPES)}")
    bet = tx.bet_amount
    return {
        "player_id": round_.player_id,
        "transaction_id": tx.transaction_id,
        "transaction_type": tx.transaction_type,
        "transaction_status": tx.status,
        "real_money_amount": real,
        "bonus_money_amount": bonus,
        "currency": round_.currency,
        "exchange_rate": rate,
        "date": timestamp(errors, prefix + w("date"), tx.occurred_at),
        "real_money_balance": balance(errors, prefix + w("real_money_balance"), tx.real_balance),
        "bonus_money_balance": balance(errors, prefix + w("bonus_money_balance"), tx.bonus_balance),
        "game_id": round_.game_id,
        "game_name": round_.game_name,
        "game_category_id": round_.game_category_id,
        "game_category_name": round_.game_category_name,
        "game_provider_id": round_.game_provider_id,
        "game_provider_name": round_.game_provider_name,
        "game_session_id": round_.game_session_id or round_.round_id,
        "bet_amount": None if bet is None else amount(errors, prefix + w("bet_amount"), bet),
        "player_ip": round_.player_ip,
        "category_provider_id": round_.category_provider_id,
    }


def build_game_round(round_: GameRoundInput) -> PepMessage | None:
    """Build one round's request (BET and WIN together when both are known; one round only).

    Lost-round WINs are left out (see the module docstring); None when nothing is left to send.
    """
    errors = Errors()
    if not round_.transactions:
        errors.add(_ROUND.wire("game_transaction_round"), "a round needs at least one transaction")
    rate = exchange_rate(errors, _ROW.wire("exchange_rate"), round_.currency, round_.exchange_rate)
    sent = [tx for tx in round_.transactions if not _is_lost_win(tx)]
    rows = [_game_row(errors, i, round_, tx, rate) for i, tx in enumerate(sent)]
    errors.raise_if_any("game_round")
    if not rows:
        return None
    ids = "+".join(tx.transaction_id for tx in sent)
    return make_message(
        "game_round",
        contract.wire_body(_ROUND, game_transaction_round=rows),
        player_id=round_.player_id,
        dedup_key=f"game_round:{round_.round_id}:{ids}",
        occurred_at=sent[0].occurred_at,
    )


@dataclass(frozen=True)
class SportSelection:
    """One selection (leg) of a sports bet; `market` is also sent as the outcome's `criterial`."""

    event_name: str
    match_date: datetime
    teams: tuple[str, ...] = ()
    market: str | None = None
    sport_name: str | None = None
    tournament_name: str | None = None
    odds: Decimal | None = None
    outcome: str | None = None


@dataclass(frozen=True)
class SportTransactionInput:
    """A sports BET, SETTLEMENT or CASHOUT; the latter two name their BET in `bet_transaction_id`.

    Amounts: the stake for a BET, the gross payout for a SETTLEMENT or CASHOUT.
    """

    player_id: str
    transaction_id: str
    transaction_type: str
    real_amount: Decimal
    bonus_amount: Decimal
    currency: str
    real_balance: Decimal
    bonus_balance: Decimal
    occurred_at: datetime
    selections: tuple[SportSelection, ...] = ()
    bet_transaction_id: str | None = None
    status: str = APPROVED
    exchange_rate: Decimal | None = None
    real_balance_before: Decimal | None = None
    bonus_balance_before: Decimal | None = None


def _selection(errors: Errors, index: int, leg: SportSelection) -> dict[str, Any]:
    """One `Bet` item with its single outcome, by attr: `contract.wire_body` names it for PEP."""
    prefix = f"{_SPORT.wire('bet')}.{index}."
    odds = leg.odds
    if odds is not None:
        odds = amount(errors, prefix + _LEG.wire("odds"), odds, positive=True)
    outcome = {
        "sport_name": leg.sport_name,
        "tournament_name": leg.tournament_name,
        "odds": odds,
        "criterial": leg.market,
        "outcome": leg.outcome,
    }
    given = any(value is not None for value in outcome.values())
    return {
        "event_name": leg.event_name,
        "teams": list(leg.teams),
        "market": leg.market,
        "match_date": timestamp(errors, prefix + _LEG.wire("match_date"), leg.match_date),
        "outcomes": [outcome] if given else [],
        "sport_name": leg.sport_name,
        "tournament_name": leg.tournament_name,
        "odds": odds,
    }


def _optional_balance(errors: Errors, field: str, value: Decimal | None) -> Decimal | None:
    return None if value is None else balance(errors, field, value)


def _sport_body(errors: Errors, tx: SportTransactionInput) -> dict[str, Any]:
    """The sport transaction by attr, checked; wire names come from its spec."""
    w = _SPORT.wire
    real = amount(errors, w("real_money_amount"), tx.real_amount)
    bonus = amount(errors, w("bonus_money_amount"), tx.bonus_amount)
    if tx.transaction_type == "BET":
        one_amount_positive(errors, _SPORT, "", real, bonus)
    if tx.transaction_type not in SPORT_TYPES:
        errors.add(w("transaction_type"), f"must be one of {', '.join(SPORT_TYPES)}")
    elif tx.transaction_type != "BET" and not tx.bet_transaction_id:
        errors.add(w("transaction_id_reference"), f"a {tx.transaction_type} must name its BET")
    return contract.wire_body(
        _SPORT,
        player_id=tx.player_id,
        transaction_id=tx.transaction_id,
        transaction_id_reference=tx.bet_transaction_id,
        transaction_type=tx.transaction_type,
        transaction_status=tx.status,
        real_money_amount=real,
        bonus_money_amount=bonus,
        currency=tx.currency,
        exchange_rate=exchange_rate(errors, w("exchange_rate"), tx.currency, tx.exchange_rate),
        date=timestamp(errors, w("date"), tx.occurred_at),
        real_money_balance_before=_optional_balance(
            errors, w("real_money_balance_before"), tx.real_balance_before
        ),
        real_money_balance=balance(errors, w("real_money_balance"), tx.real_balance),
        bonus_money_balance_before=_optional_balance(
            errors, w("bonus_money_balance_before"), tx.bonus_balance_before
        ),
        bonus_money_balance=balance(errors, w("bonus_money_balance"), tx.bonus_balance),
        bet=[_selection(errors, i, leg) for i, leg in enumerate(tx.selections)],
    )


def build_sport_transaction(tx: SportTransactionInput) -> PepMessage:
    """Build a sports BET, SETTLEMENT or CASHOUT (one transaction per request)."""
    errors = Errors()
    body = _sport_body(errors, tx)
    errors.raise_if_any("sport_transaction")
    return make_message(
        "sport_transaction",
        body,
        player_id=tx.player_id,
        dedup_key=f"sport:{tx.transaction_id}",
        occurred_at=tx.occurred_at,
    )


@dataclass(frozen=True)
class MoneyTransactionInput:
    """A deposit, withdrawal or manual credit/debit; `amount` is positive whatever the direction."""

    player_id: str
    transaction_id: str
    transaction_type: str
    status: str
    amount: Decimal
    currency: str
    real_balance: Decimal
    bonus_balance: Decimal
    occurred_at: datetime
    exchange_rate: Decimal | None = None
    payment_method: str | None = None
    payment_provider: str | None = None
    card_type: str | None = None
    card_company: str | None = None
    player_ip: str | None = None
    manual_category: str | None = None


def _money_body(errors: Errors, tx: MoneyTransactionInput) -> dict[str, Any]:
    """The money transaction by attr, checked; wire names come from its spec."""
    w = _MONEY.wire
    if tx.transaction_type not in MONEY_TYPES:
        errors.add(w("transaction_type"), f"must be one of {', '.join(MONEY_TYPES)}")
    return contract.wire_body(
        _MONEY,
        player_id=tx.player_id,
        transaction_id=tx.transaction_id,
        transaction_type=tx.transaction_type,
        transaction_status=tx.status,
        amount=amount(errors, w("amount"), tx.amount, positive=True),
        currency=tx.currency,
        exchange_rate=exchange_rate(errors, w("exchange_rate"), tx.currency, tx.exchange_rate),
        date=timestamp(errors, w("date"), tx.occurred_at),
        real_money_balance=balance(errors, w("real_money_balance"), tx.real_balance),
        bonus_money_balance=balance(errors, w("bonus_money_balance"), tx.bonus_balance),
        payment_method=tx.payment_method,
        payment_provider=tx.payment_provider,
        card_type=tx.card_type,
        card_company=tx.card_company,
        player_ip=tx.player_ip,
        manual_category=tx.manual_category,
    )


def build_money_transaction(tx: MoneyTransactionInput) -> PepMessage | None:
    """Build a money transaction; None for a non-APPROVED one unless configured to send it.

    The dedup key carries the status when it is not APPROVED, so PENDING then APPROVED of one
    transaction are two messages rather than a conflict.
    """
    if tx.status != APPROVED and not settings.PEP_SEND_NON_APPROVED_MONEY:
        return None
    errors = Errors()
    body = _money_body(errors, tx)
    errors.raise_if_any("money_transaction")
    suffix = "" if tx.status == APPROVED else f":{tx.status}"
    return make_message(
        "money_transaction",
        body,
        player_id=tx.player_id,
        dedup_key=f"money:{tx.transaction_id}{suffix}",
        occurred_at=tx.occurred_at,
    )


@dataclass(frozen=True)
class BonusGrantedInput:
    """A bonus given to a player; `grant_id` is our stable id for this grant."""

    player_id: str
    grant_id: str
    bonus_offer_id: str
    amount: Decimal
    currency: str
    occurred_at: datetime
    bonus_offer_name: str | None = None
    exchange_rate: Decimal | None = None
    real_balance: Decimal | None = None
    bonus_balance: Decimal | None = None


def build_bonus_granted(grant: BonusGrantedInput) -> PepMessage:
    """Build a bonus-granted event (body is our documented choice until PEP's swagger arrives)."""
    errors = Errors()
    w = _GRANT.wire
    body = contract.wire_body(
        _GRANT,
        player_id=grant.player_id,
        transaction_id=grant.grant_id,
        bonus_offer_id=grant.bonus_offer_id,
        bonus_offer_name=grant.bonus_offer_name,
        amount=amount(errors, w("amount"), grant.amount),
        currency=grant.currency,
        exchange_rate=exchange_rate(
            errors, w("exchange_rate"), grant.currency, grant.exchange_rate
        ),
        date=timestamp(errors, w("date"), grant.occurred_at),
        real_money_balance=_optional_balance(errors, w("real_money_balance"), grant.real_balance),
        bonus_money_balance=_optional_balance(
            errors, w("bonus_money_balance"), grant.bonus_balance
        ),
    )
    errors.raise_if_any("bonus_granted")
    return make_message(
        "bonus_granted",
        body,
        player_id=grant.player_id,
        dedup_key=f"bonus_granted:{grant.grant_id}",
        occurred_at=grant.occurred_at,
    )


@dataclass(frozen=True)
class BalanceUpdateInput:
    """A player's balances at `occurred_at` (PEP keeps the latest by date)."""

    player_id: str
    real_balance: Decimal
    bonus_balance: Decimal
    currency: str
    occurred_at: datetime


def build_balance_update(update: BalanceUpdateInput) -> PepMessage:
    """Build a balance snapshot; keyed by player and time, so a resent snapshot is one message."""
    errors = Errors()
    w = _BALANCE.wire
    when = timestamp(errors, w("date"), update.occurred_at)
    body = contract.wire_body(
        _BALANCE,
        player_id=update.player_id,
        real_money_balance=balance(errors, w("real_money_balance"), update.real_balance),
        bonus_money_balance=balance(errors, w("bonus_money_balance"), update.bonus_balance),
        currency=update.currency,
        date=when,
    )
    errors.raise_if_any("balance_update")
    return make_message(
        "balance_update",
        body,
        player_id=update.player_id,
        dedup_key=f"balance:{update.player_id}:{when}",
        occurred_at=update.occurred_at,
    )
