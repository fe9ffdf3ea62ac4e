"""PEP's wire format: exact JSON bytes, Decimal amounts as JSON numbers, UTC timestamps with `Z`.

The outbox stores these bytes and every attempt and replay sends them unchanged, so the encoding
must be deterministic (sorted keys, no spaces) and must never pass money through a float.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any


def format_timestamp(moment: datetime) -> str:
    """Render an aware datetime as UTC ISO-8601 with milliseconds and `Z`."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("timestamps sent to PEP must be timezone-aware")
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def format_decimal(amount: Decimal) -> str:
    """Render an amount as a plain JSON number: no exponent, no trailing zeros after the point."""
    if not amount.is_finite():
        raise ValueError(f"amount {amount} is not a finite number")
    text = format(amount, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


# The hot path (every outbox row, every builder's contract check) dispatches on the exact type
# with one dict lookup; a subclass or another Mapping/Sequence takes the isinstance chain in
# _encode_other. encode_basestring is json's C string escaper, what json.dumps(..,
# ensure_ascii=False) uses, without building an encoder per string.
def _encode_str(value: str, out: list[str]) -> None:
    out.append(encode_basestring(value))


def _encode_none(value: None, out: list[str]) -> None:
    out.append("null")


def _encode_bool(value: bool, out: list[str]) -> None:
    out.append("true" if value else "false")


def _encode_int(value: int, out: list[str]) -> None:
    out.append(str(value))


def _encode_decimal(value: Decimal, out: list[str]) -> None:
    out.append(format_decimal(value))


def _encode_datetime(value: datetime, out: list[str]) -> None:
    out.append('"' + format_timestamp(value) + '"')


def _encode_date(value: date, out: list[str]) -> None:
    out.append('"' + value.isoformat() + '"')


def _encode_float(value: float, out: list[str]) -> None:
    raise TypeError("floats are not allowed on the wire; use Decimal")


def _encode_mapping(value: Mapping[Any, Any], out: list[str]) -> None:
    separator = "{"
    for key in sorted(value):
        out.append(separator)
        out.append(encode_basestring(str(key)))
        out.append(":")
        item = value[key]
        _ENCODERS.get(type(item), _encode_other)(item, out)
        separator = ","
    out.append("}" if separator == "," else "{}")


def _encode_sequence(value: Sequence[Any], out: list[str]) -> None:
    separator = "["
    for item in value:
        out.append(separator)
        _ENCODERS.get(type(item), _encode_other)(item, out)
        separator = ","
    out.append("]" if separator == "," else "[]")


def _encode_other(value: Any, out: list[str]) -> None:
    """Subclasses (enums, OrderedDict, ...) and other Mappings/Sequences.

    The order matters: a bool is an int and a datetime is a date.
    """
    if isinstance(value, bool):
        _encode_bool(value, out)
    elif isinstance(value, str):
        _encode_str(value, out)
    elif isinstance(value, Decimal):
        _encode_decimal(value, out)
    elif isinstance(value, int):
        _encode_int(value, out)
    elif isinstance(value, float):
        _encode_float(value, out)
    elif isinstance(value, datetime):
        _encode_datetime(value, out)
    elif isinstance(value, date):
        _encode_date(value, out)
    elif isinstance(value, Mapping):
        _encode_mapping(value, out)
    elif isinstance(value, Sequence):
        _encode_sequence(value, out)
    else:
        raise TypeError(f"cannot send {type(value).__name__} to PEP")


_ENCODERS: dict[type, Callable[[Any, list[str]], None]] = {
    str: _encode_str,
    type(None): _encode_none,
    bool: _encode_bool,
    int: _encode_int,
    Decimal: _encode_decimal,
    datetime: _encode_datetime,
    date: _encode_date,
    float: _encode_float,
    dict: _encode_mapping,
    list: _encode_sequence,
    tuple: _encode_sequence,
}


def dumps(payload: Any) -> bytes:
    """Encode a payload as canonical JSON bytes (sorted keys, compact, UTF-8).

    Decimals become exact JSON numbers (no exponent, trailing zeros dropped), aware datetimes
    UTC strings with ms and `Z`, dates YYYY-MM-DD; a float or any other type is a TypeError.
    """
    out: list[str] = []
    _ENCODERS.get(type(payload), _encode_other)(payload, out)
    return "".join(out).encode()


def loads(data: bytes | str) -> Any:
    """Decode JSON keeping numbers with a fraction as Decimal, so amounts round-trip exactly."""
    return json.loads(data, parse_float=Decimal)
