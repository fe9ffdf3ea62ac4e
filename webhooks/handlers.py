"""What each family of PEP events does; called by processing in the event's transaction.

- loyalty (level, rank, XP: any event carrying CurrentLevel, a rank name or XpBalance):
  the player's LoyaltySnapshot, field by field, only where the event is newer;
- wallet (`virtualCurrency_on_walletUpdate`, any name with "wallet"): the TokenBalance;
- `product_purchase`: a Fulfilment, granted through the assign-bonus grant service;
- anything else: stored and shown, nothing done (dispatch returns False).

Key names beyond those PEP's docs and the public peer show are guesses (docs/webhooks.md).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from players.models import Player
from webhooks import fulfilment
from webhooks.decoding import Item, as_number, decode_payload, text_of
from webhooks.models import InboxEvent, LoyaltySnapshot, TokenBalance

LEVEL_KEYS = ("CurrentLevel", "Level")
RANK_KEYS = ("CurrentRankExternalName", "CurrentRankName", "RankExternalName", "RankName")
XP_KEYS = ("XpBalance", "CurrentXp", "XP")
BALANCE_KEYS = ("Balance", "CurrentBalance", "WalletBalance", "TokenBalance", "NewBalance")
CURRENCY_KEYS = ("VirtualCurrency", "Currency", "CurrencyName", "WalletType")
# A `bonus_offer` reward polled from the Data Fetch API (webhooks/poller.py), fulfilled alike.
POLLED_REWARD_EVENT = "reward_bonus_offer"
PURCHASE_EVENTS = frozenset({"product_purchase", POLLED_REWARD_EVENT})


# What the snapshot columns hold (IntegerField; DecimalField(24, 4)): a value beyond them is
# treated as absent rather than failing the event on the database.
_MAX_LEVEL = 2**31 - 1
_MAX_AMOUNT = Decimal(10) ** 20


def _numeric(item: Item | None) -> Decimal | None:
    """The item as a number: a `number` item, or a `string` one holding a number (tolerance)."""
    if item is None:
        return None
    if isinstance(item.value, Decimal):
        return item.value
    if item.type == "string" and isinstance(item.value, str):
        try:
            return as_number(item.value)
        except (ValueError, ArithmeticError):
            return None
    return None


def _level(item: Item | None) -> int | None:
    value = _numeric(item)
    return int(value) if value is not None and abs(value) <= _MAX_LEVEL else None


def _amount(item: Item | None) -> Decimal | None:
    value = _numeric(item)
    if value is None or abs(value) >= _MAX_AMOUNT:
        return None
    return value.quantize(Decimal("0.0001"))


def _first(items: dict[str, Item], keys: tuple[str, ...]) -> Item | None:
    for key in keys:
        item = items.get(key)
        if item is not None and not item.error:
            return item
    return None


def as_of(event: InboxEvent, items: dict[str, Item]) -> datetime:
    """When the event's values are true: its Timestamp item, else eventDate, else arrival."""
    stamp = items.get("Timestamp")
    if stamp is not None and isinstance(stamp.value, datetime):
        return stamp.value
    return event.event_date or event.received_at or timezone.now()


def dispatch(event: InboxEvent) -> bool:
    """Run the event's handler; False when no handler applies (the event is only stored)."""
    items = decode_payload(event.raw.get("payload"))
    if not event.player_ref:
        return False
    if event.event_name in PURCHASE_EVENTS:
        fulfilment.purchase_record(event=event, items=items)
        return True
    if "wallet" in event.event_name.lower():
        return wallet_update(event, items)
    if _first(items, LEVEL_KEYS + RANK_KEYS + XP_KEYS) is not None:
        return loyalty_update(event, items)
    return False


def _player(player_ref: str) -> Player | None:
    return Player.objects.filter(player_id=player_ref).first()


def loyalty_update(event: InboxEvent, items: dict[str, Item]) -> bool:
    """Apply level, rank and XP each only if the event is newer than the stored value.

    The row is locked, so concurrent events of one player apply one after the other.
    """
    moment = as_of(event, items)
    # One locked read (the player is looked up only when the snapshot is created): a handler
    # runs once per event, and the queries are most of its cost.
    snap, _ = LoyaltySnapshot.objects.select_for_update().get_or_create(
        player_ref=event.player_ref, defaults={"player": lambda: _player(event.player_ref)}
    )
    changed: list[str] = []
    level, rank = _level(_first(items, LEVEL_KEYS)), _first(items, RANK_KEYS)
    xp = _amount(_first(items, XP_KEYS))
    if level is not None and _newer(moment, snap.level_at):
        snap.level, snap.level_at = level, moment
        changed += ["level", "level_at"]
    if rank is not None and _newer(moment, snap.rank_at):
        snap.rank, snap.rank_at = text_of(rank)[:200], moment
        changed += ["rank", "rank_at"]
    if xp is not None and _newer(moment, snap.xp_at):
        snap.xp, snap.xp_at = xp, moment
        changed += ["xp", "xp_at"]
    if changed:
        snap.source_event = event
        snap.save(update_fields=[*changed, "source_event", "updated_at"])
    return True


def _newer(moment: datetime, stored: datetime | None) -> bool:
    # Equal times: the later-processed event wins (PEP dated both the same instant).
    return stored is None or moment >= stored


def wallet_update(event: InboxEvent, items: dict[str, Item]) -> bool:
    """Set the balance of the event's currency if the event is newer than the stored one."""
    balance = _amount(_first(items, BALANCE_KEYS))
    if balance is None:
        return False
    currency = (text_of(_first(items, CURRENCY_KEYS)) or "tokens")[:64]
    moment = as_of(event, items)
    row, _ = TokenBalance.objects.select_for_update().get_or_create(
        player_ref=event.player_ref,
        currency=currency,
        defaults={
            "player": lambda: _player(event.player_ref),
            "balance": balance,
            "as_of": moment,
            "source_event": event,
        },
    )
    if row.source_event_id != event.pk and _newer(moment, row.as_of):
        row.balance, row.as_of, row.source_event = balance, moment, event
        row.save(update_fields=["balance", "as_of", "source_event", "updated_at"])
    return True
