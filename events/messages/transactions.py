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
    without_none,
)
from events.outbox import PepMessage

GAME_TYPES = ("BET", "WIN")
SPORT_TYPES = ("BET", "SETTLEMENT", "CASHOUT")
MONEY_TYPES = ("DEPOSIT", "WITHDRAW", "MANUAL_CREDIT", "MANUAL_DEBIT")
APPROVED = "APPROVED"


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
    """One `GameTransactionEvent`: the wire names for a casino transaction live here."""
    prefix = f"gameTransactionRound.{index}."
    real = amount(errors, prefix + "realMoneyAmount", tx.real_amount)
    bonus = amount(errors, prefix + "bonusMoneyAmount", tx.bonus_amount)
    one_amount_positive(errors, prefix, real, bonus)
    if tx.transaction_type not in GAME_TYPES:
        errors.add(prefix + "transactionType", f"must be one of {', '.join(GAME_TYPES)}")
    bet = tx.bet_amount
    return without_none(
        {
            "playerId": round_.player_id,
            "transactionId": tx.transaction_id,
            "transactionType": tx.transaction_type,
            "transactionStatus": tx.status,
            "realMoneyAmount": real,
            "bonusMoneyAmount": bonus,
            "currency": round_.currency,
            "exchangeRate": rate,
            "date": timestamp(errors, prefix + "date", tx.occurred_at),
            "realMoneyBalance": balance(errors, prefix + "realMoneyBalance", tx.real_balance),
            "bonusMoneyBalance": balance(errors, prefix + "bonusMoneyBalance", tx.bonus_balance),
            "gameId": round_.game_id,
            "gameName": round_.game_name,
            "gameCategoryId": round_.game_category_id,
            "gameCategoryName": round_.game_category_name,
            "gameProviderId": round_.game_provider_id,
            "gameProviderName": round_.game_provider_name,
            "gameSessionId": round_.game_session_id or round_.round_id,
            "betAmount": None if bet is None else amount(errors, prefix + "betAmount", bet),
            "playerIp": round_.player_ip,
            "categoryProviderId": round_.category_provider_id,
        }
    )


def build_game_round(round_: GameRoundInput) -> PepMessage | None:
    """Build one round's request (BET and WIN together when both are known; one round only).

    Lost-round WINs are left out (see the module docstring); None when nothing is left to send.
    """
    errors = Errors()
    if not round_.transactions:
        errors.add("gameTransactionRound", "a round needs at least one transaction")
    rate = exchange_rate(errors, "exchangeRate", round_.currency, round_.exchange_rate)
    sent = [tx for tx in round_.transactions if not _is_lost_win(tx)]
    rows = [_game_row(errors, i, round_, tx, rate) for i, tx in enumerate(sent)]
    errors.raise_if_any("game_round")
    if not rows:
        return None
    ids = "+".join(tx.transaction_id for tx in sent)
    return make_message(
        "game_round",
        {"gameTransactionRound": rows},
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
    """One `Bet` item with its single outcome: the wire names for a selection live here."""
    prefix = f"bet.{index}."
    odds = None if leg.odds is None else amount(errors, prefix + "odds", leg.odds, positive=True)
    outcome = without_none(
        {
            "sportName": leg.sport_name,
            "tournamentName": leg.tournament_name,
            "odds": odds,
            "criterial": leg.market,
            "outcome": leg.outcome,
        }
    )
    return without_none(
        {
            "eventName": leg.event_name,
            "teams": list(leg.teams),
            "market": leg.market,
            "matchDate": timestamp(errors, prefix + "matchDate", leg.match_date),
            "outcomes": [outcome] if outcome else [],
            "sportName": leg.sport_name,
            "tournamentName": leg.tournament_name,
            "odds": odds,
        }
    )


def _optional_balance(errors: Errors, field: str, value: Decimal | None) -> Decimal | None:
    return None if value is None else balance(errors, field, value)


def _sport_body(errors: Errors, tx: SportTransactionInput) -> dict[str, Any]:
    """The sport transaction's wire names live here."""
    real = amount(errors, "realMoneyAmount", tx.real_amount)
    bonus = amount(errors, "bonusMoneyAmount", tx.bonus_amount)
    if tx.transaction_type == "BET":
        one_amount_positive(errors, "", real, bonus)
    if tx.transaction_type not in SPORT_TYPES:
        errors.add("transactionType", f"must be one of {', '.join(SPORT_TYPES)}")
    elif tx.transaction_type != "BET" and not tx.bet_transaction_id:
        errors.add("transactionIdReference", f"a {tx.transaction_type} must name its BET")
    return without_none(
        {
            "playerId": tx.player_id,
            "transactionId": tx.transaction_id,
            "transactionIdReference": tx.bet_transaction_id,
            "transactionType": tx.transaction_type,
            "transactionStatus": tx.status,
            "realMoneyAmount": real,
            "bonusMoneyAmount": bonus,
            "currency": tx.currency,
            "exchangeRate": exchange_rate(errors, "exchangeRate", tx.currency, tx.exchange_rate),
            "date": timestamp(errors, "date", tx.occurred_at),
            "realMoneyBalanceBefore": _optional_balance(
                errors, "realMoneyBalanceBefore", tx.real_balance_before
            ),
            "realMoneyBalance": balance(errors, "realMoneyBalance", tx.real_balance),
            "bonusMoneyBalanceBefore": _optional_balance(
                errors, "bonusMoneyBalanceBefore", tx.bonus_balance_before
            ),
            "bonusMoneyBalance": balance(errors, "bonusMoneyBalance", tx.bonus_balance),
            "bet": [_selection(errors, i, leg) for i, leg in enumerate(tx.selections)],
        }
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
    """The money transaction's wire names live here."""
    if tx.transaction_type not in MONEY_TYPES:
        errors.add("transactionType", f"must be one of {', '.join(MONEY_TYPES)}")
    return without_none(
        {
            "playerId": tx.player_id,
            "transactionId": tx.transaction_id,
            "transactionType": tx.transaction_type,
            "transactionStatus": tx.status,
            "amount": amount(errors, "amount", tx.amount, positive=True),
            "currency": tx.currency,
            "exchangeRate": exchange_rate(errors, "exchangeRate", tx.currency, tx.exchange_rate),
            "date": timestamp(errors, "date", tx.occurred_at),
            "realMoneyBalance": balance(errors, "realMoneyBalance", tx.real_balance),
            "bonusMoneyBalance": balance(errors, "bonusMoneyBalance", tx.bonus_balance),
            "paymentMethod": tx.payment_method,
            "paymentProvider": tx.payment_provider,
            "cardType": tx.card_type,
            "cardCompany": tx.card_company,
            "playerIp": tx.player_ip,
            "manualCategory": tx.manual_category,
        }
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
    body = without_none(
        {
            "playerId": grant.player_id,
            "transactionId": grant.grant_id,
            "bonusOfferId": grant.bonus_offer_id,
            "bonusOfferName": grant.bonus_offer_name,
            "amount": amount(errors, "amount", grant.amount),
            "currency": grant.currency,
            "exchangeRate": exchange_rate(
                errors, "exchangeRate", grant.currency, grant.exchange_rate
            ),
            "date": timestamp(errors, "date", grant.occurred_at),
            "realMoneyBalance": _optional_balance(errors, "realMoneyBalance", grant.real_balance),
            "bonusMoneyBalance": _optional_balance(
                errors, "bonusMoneyBalance", grant.bonus_balance
            ),
        }
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
    when = timestamp(errors, "date", update.occurred_at)
    body = {
        "playerId": update.player_id,
        "realMoneyBalance": balance(errors, "realMoneyBalance", update.real_balance),
        "bonusMoneyBalance": balance(errors, "bonusMoneyBalance", update.bonus_balance),
        "currency": update.currency,
        "date": when,
    }
    errors.raise_if_any("balance_update")
    return make_message(
        "balance_update",
        body,
        player_id=update.player_id,
        dedup_key=f"balance:{update.player_id}:{when}",
        occurred_at=update.occurred_at,
    )
