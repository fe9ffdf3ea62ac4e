"""PEP's typed payload items decode to Python values; nothing in a payload is an error."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from webhooks.decoding import decode_payload, parse_instant, player_ref


def test_it_decodes_each_type_and_keeps_the_raw_item() -> None:
    raw = [
        {"key": "PlayerId", "type": "string", "value": "p-1"},
        {"key": "CurrentLevel", "type": "number", "value": "9"},
        {"key": "XpBalance", "type": "number", "value": "1234.50"},
        {"key": "IsVip", "type": "boolean", "value": "true"},
        {"key": "Timestamp", "type": "date", "value": "2026-12-03T09:00:00.123Z"},
        {
            "key": "RewardExternalDescription",
            "type": "i18n",
            "value": {"languages": [{"language": "EN", "value": "100 Coins"}]},
        },
    ]
    items = decode_payload(raw)

    assert items["CurrentLevel"].value == Decimal("9")
    assert items["XpBalance"].value == Decimal("1234.50")
    assert items["IsVip"].value is True
    assert items["Timestamp"].value == datetime(2026, 12, 3, 9, 0, 0, 123000, tzinfo=UTC)
    assert items["RewardExternalDescription"].value == {"EN": "100 Coins"}
    assert items["CurrentLevel"].raw == raw[1]
    assert player_ref(raw) == "p-1"


@pytest.mark.parametrize(
    ("kind", "value"),
    [("number", "abc"), ("number", "NaN"), ("boolean", "maybe"), ("date", "soon"), ("i18n", "x")],
)
def test_an_undecodable_value_is_kept_with_its_reason(kind: str, value: str) -> None:
    item = decode_payload([{"key": "K", "type": kind, "value": value}])["K"]
    assert item.value == value and item.error


def test_an_unknown_type_is_kept_and_items_without_a_key_are_skipped() -> None:
    items = decode_payload([{"key": "New", "type": "money", "value": "1"}, {"type": "x"}, 5])
    assert list(items) == ["New"]
    assert items["New"].error == "unknown type 'money'"


@pytest.mark.parametrize(
    "text",
    ["1796202000", "1796202000000", "2026-12-02T09:00:00Z", "2026-12-02T10:00:00+01:00"],
)
def test_a_timestamp_reads_as_seconds_milliseconds_or_iso(text: str) -> None:
    assert parse_instant(text) == datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["", "yesterday", "99999999999999999", "1e9", None, True])
def test_an_unreadable_timestamp_is_none(text: object) -> None:
    assert parse_instant(text) is None
