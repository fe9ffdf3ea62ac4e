"""pepbridge.pep.wire: canonical bytes, exact amounts, no floats (the outbox stores them)."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Any

import pytest

from pepbridge.pep import wire


def reference_dumps(value: Any) -> bytes:
    """The first, obviously-correct encoder: the fast one must give the same bytes."""
    out: list[str] = []
    _reference(value, out)
    return "".join(out).encode()


def _reference(value: Any, out: list[str]) -> None:
    if value is None or isinstance(value, bool | str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, Decimal):
        out.append(wire.format_decimal(value))
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        raise TypeError("floats")
    elif isinstance(value, datetime):
        out.append(json.dumps(wire.format_timestamp(value)))
    elif isinstance(value, date):
        out.append(json.dumps(value.isoformat()))
    elif isinstance(value, Mapping):
        items = [
            json.dumps(str(k), ensure_ascii=False) + ":" + reference_dumps(value[k]).decode()
            for k in sorted(value)
        ]
        out.append("{" + ",".join(items) + "}")
    elif isinstance(value, Sequence):
        out.append("[" + ",".join(reference_dumps(item).decode() for item in value) + "]")
    else:
        raise TypeError(type(value).__name__)


class Colour(StrEnum):
    RED = "red"


class Level(IntEnum):
    HIGH = 3


PAYLOADS = [
    {},
    [],
    {"b": 1, "a": [], "c": {}},
    {"amount": Decimal("2.50"), "zero": Decimal("0.00"), "big": Decimal("1E+2")},
    {"small": Decimal("1E-7"), "neg": Decimal("-0.000"), "int": Decimal(7), "n": -5},
    {"text": 'quote " backslash \\ newline \n tab \t nul \x00', "unicode": "Zürich ✓ 😀"},
    {"when": datetime(2024, 5, 2, 10, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))},
    {"day": date(2024, 2, 29), "flag": True, "off": False, "none": None},
    {"nested": [{"x": [Decimal("1.10"), (1, 2)], "y": OrderedDict(z=1, a=2)}]},
    {"enum": Colour.RED, "level": Level.HIGH, "tuple": ("a",), "bytes": b"ab"},
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_it_gives_the_same_bytes_as_the_reference_encoder(payload: Any) -> None:
    assert wire.dumps(payload) == reference_dumps(payload)


def test_it_writes_sorted_compact_utf8_with_exact_amounts() -> None:
    payload = {"b": Decimal("1E+2"), "a": Decimal("0.00"), "c": Decimal("2.50"), "ü": "é"}
    assert wire.dumps(payload) == '{"a":0,"b":100,"c":2.5,"ü":"é"}'.encode()


def test_it_writes_timestamps_in_utc_with_milliseconds() -> None:
    moment = datetime(2024, 5, 2, 10, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert wire.dumps([moment]) == b'["2024-05-02T08:00:00.123Z"]'


@pytest.mark.parametrize("payload", [1.5, {"a": [0.1]}, {"a": {"b": 2.0}}])
def test_it_refuses_floats_anywhere(payload: Any) -> None:
    with pytest.raises(TypeError, match="floats"):
        wire.dumps(payload)


@pytest.mark.parametrize("amount", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_it_refuses_non_finite_amounts(amount: Decimal) -> None:
    with pytest.raises(ValueError, match="finite"):
        wire.dumps({"amount": amount})


def test_it_refuses_naive_datetimes_and_unknown_types() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        wire.dumps({"when": datetime(2024, 1, 1)})  # noqa: DTZ001
    with pytest.raises(TypeError, match="set"):
        wire.dumps({"tags": {"a"}})


def test_it_round_trips_amounts_exactly() -> None:
    payload = {"amount": Decimal("12345678901234567.12345678"), "at": datetime.now(UTC)}
    assert wire.loads(wire.dumps(payload))["amount"] == payload["amount"]
