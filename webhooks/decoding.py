"""PEP's typed payload items (`{"key", "type", "value"}`) as Python values, raw form kept.

Types (docs: Webhooks -> Webhook events): string, number, boolean, date, i18n; values come as
strings, i18n as `{"languages": [{"language", "value"}]}`. An item that does not decode keeps
its raw value and says why: an event is never refused for its payload.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

# An epoch number above this is in milliseconds (1e11 s is the year 5138).
_MILLIS_ABOVE = 10**11


@dataclass(frozen=True)
class Item:
    """One payload item: its key, PEP's type, the decoded value and the item as sent."""

    key: str
    type: str
    value: Any
    raw: Any
    error: str = ""


def parse_instant(text: Any) -> datetime | None:
    """An aware datetime from epoch seconds, epoch milliseconds or ISO-8601; None if neither.

    A naive ISO time is taken as UTC (PEP's examples end in Z).
    """
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        return None
    value = str(text).strip()
    if value.isascii() and value.isdigit() and len(value) <= 16:
        number = int(value)
        seconds = number / 1000 if number > _MILLIS_ABOVE else number
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def as_number(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    number = Decimal(str(value).strip())
    if not number.is_finite() or abs(number.adjusted()) > 30:
        raise ValueError("out of range")
    return number


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise ValueError("not true or false")


def _date(value: Any) -> datetime:
    moment = parse_instant(value)
    if moment is None:
        raise ValueError("not a date")
    return moment


def _i18n(value: Any) -> dict[str, str]:
    languages = value.get("languages") if isinstance(value, dict) else None
    if not isinstance(languages, list):
        raise ValueError('not {"languages": [...]}')
    texts: dict[str, str] = {}
    for entry in languages:
        if isinstance(entry, dict) and isinstance(entry.get("language"), str):
            texts[entry["language"].upper()] = str(entry.get("value", ""))
    return texts


def _string(value: Any) -> str:
    if isinstance(value, dict | list):
        raise ValueError("not a string")
    return str(value)


_DECODERS = {
    "string": _string,
    "number": as_number,
    "boolean": _boolean,
    "date": _date,
    "i18n": _i18n,
}


def decode_item(raw: Any) -> Item | None:
    """Decode one item; None when it has no string `key` (nothing to file it under)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("key"), str):
        return None
    declared = raw.get("type")
    kind = declared if isinstance(declared, str) else ""
    value = raw.get("value")
    decoder = _DECODERS.get(kind)
    if decoder is None:
        return Item(raw["key"], kind, value, raw, error=f"unknown type {kind!r}")
    try:
        return Item(raw["key"], kind, decoder(value), raw)
    except (ValueError, InvalidOperation, TypeError) as exc:
        return Item(raw["key"], kind, value, raw, error=f"not a {kind}: {exc}")


def decode_payload(payload: Any) -> dict[str, Item]:
    """The payload's items by key (the first of a repeated key wins); junk items are skipped."""
    items: dict[str, Item] = {}
    for raw in payload if isinstance(payload, list) else []:
        item = decode_item(raw)
        if item is not None and item.key not in items:
            items[item.key] = item
    return items


def player_ref(payload: Any) -> str:
    """The `PlayerId` item's value as PEP sent it ('' when absent)."""
    item = decode_payload(payload).get("PlayerId")
    if item is None or item.error or not isinstance(item.value, str):
        return ""
    return item.value[:128]


def display(item: Item) -> str:
    """The decoded value as staff read it (numbers and dates in full, i18n per language)."""
    value = item.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return "; ".join(f"{lang}: {text}" for lang, text in value.items())
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return str(value)


def text_of(item: Item | None) -> str:
    """A string for a name-like item: a string as is, an i18n text in English or the first."""
    if item is None or item.error:
        return ""
    if isinstance(item.value, dict):
        return item.value.get("EN") or next(iter(item.value.values()), "")
    return str(item.value)
