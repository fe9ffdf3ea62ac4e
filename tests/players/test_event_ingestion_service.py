"""players.event_ingestion: the Python way in (record_event) and the batch behind the API."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from events.models import OutboxMessage
from players.event_ingestion import (
    EventConflict,
    EventRejected,
    ingest_events,
    record_event,
)
from players.models import Player

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def player() -> Player:
    return Player.objects.create(player_id="p-1", currency="EUR")


def casino_round(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "type": "casino_round",
        "playerId": "p-1",
        "roundId": "r-1",
        "currency": "EUR",
        "gameId": "g-1",
        "gameName": "Starburst",
        "gameCategoryId": "slots",
        "gameCategoryName": "Slots",
        "gameProviderId": "netent",
        "gameProviderName": "NetEnt",
        "transactions": [
            {
                "transactionId": "t-1",
                "transactionType": "BET",
                "realMoneyAmount": Decimal("2.50"),
                "bonusMoneyAmount": 0,
                "realMoneyBalance": Decimal("97.50"),
                "bonusMoneyBalance": 0,
                "date": "2024-05-02T08:00:00Z",
            },
            {
                "transactionId": "t-2",
                "transactionType": "WIN",
                "realMoneyAmount": "10",
                "bonusMoneyAmount": 0,
                "realMoneyBalance": "107.5",
                "bonusMoneyBalance": 0,
                "date": "2024-05-02T08:00:03Z",
            },
        ],
    }
    data.update(overrides)
    return data


def deposit(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "type": "money_transaction",
        "playerId": "p-1",
        "transactionId": "d-1",
        "transactionType": "DEPOSIT",
        "transactionStatus": "APPROVED",
        "amount": "50.00",
        "currency": "EUR",
        "date": "2024-05-02T07:55:00+02:00",
        "realMoneyBalance": "100",
        "bonusMoneyBalance": "0",
    }
    data.update(overrides)
    return data


def bodies(message_type: str) -> list[Any]:
    rows = OutboxMessage.objects.filter(message_type=message_type).order_by("pk")
    return [json.loads(row.body) for row in rows]


def test_it_queues_a_casino_round_with_bet_and_win_in_one_message():
    result = record_event(casino_round())
    assert (result.status, result.key) == ("accepted", "r-1")
    [body] = bodies("game_round")
    rows = body["gameTransactionRound"]
    assert [row["transactionType"] for row in rows] == ["BET", "WIN"]
    assert rows[0]["realMoneyAmount"] == 2.5
    assert rows[0]["exchangeRate"] == 1
    assert rows[0]["date"] == "2024-05-02T08:00:00.000Z"


def test_it_converts_offsets_to_utc():
    record_event(deposit())
    assert bodies("money_transaction")[0]["date"] == "2024-05-02T05:55:00.000Z"


@pytest.mark.parametrize(
    "event",
    [
        {
            "type": "sport_transaction",
            "playerId": "p-1",
            "transactionId": "s-1",
            "transactionType": "BET",
            "realMoneyAmount": "5",
            "bonusMoneyAmount": "0",
            "currency": "EUR",
            "date": "2024-05-02T08:00:00Z",
            "realMoneyBalance": "95",
            "bonusMoneyBalance": "0",
            "bet": [
                {
                    "eventName": "A v B",
                    "matchDate": "2024-05-03T18:00:00Z",
                    "sportName": "football",
                    "odds": "2.1",
                }
            ],
        },
        {
            "type": "balance_update",
            "playerId": "p-1",
            "realMoneyBalance": "10",
            "bonusMoneyBalance": "0",
            "currency": "EUR",
            "date": "2024-05-02T08:00:00Z",
        },
        {"type": "login", "playerId": "p-1", "date": "2024-05-02T08:00:00Z"},
        {"type": "logout", "playerId": "p-1", "date": "2024-05-02T09:00:00Z"},
        {
            "type": "bonus_granted",
            "playerId": "p-1",
            "transactionId": "bg-1",
            "bonusOfferId": "welcome",
            "amount": "10",
            "currency": "EUR",
            "date": "2024-05-02T08:00:00Z",
        },
        {
            "type": "crm_trigger",
            "playerId": "p-1",
            "eventName": "reset-password",
            "eventId": "c-1",
            "date": "2024-05-02T08:00:00Z",
            "payload": {"link": "https://x"},
            "delaySeconds": 90,
        },
    ],
    ids=lambda e: e["type"],
)
def test_it_accepts_each_event_kind(event):
    assert record_event(event).status == "accepted"
    assert OutboxMessage.objects.count() == 1


def test_it_sends_a_crm_delay_as_an_iso_duration():
    record_event(
        {
            "type": "crm_trigger",
            "playerId": "p-1",
            "eventName": "reminder",
            "date": "2024-05-02T08:00:00Z",
            "delaySeconds": 5400,
        }
    )
    assert bodies("crm_trigger")[0]["delay"] == {"duration": "PT1H30M"}


def test_it_accepts_the_same_transaction_twice_and_queues_it_once():
    record_event(deposit())
    assert record_event(deposit()).status == "duplicate"
    assert OutboxMessage.objects.count() == 1


def test_it_reports_a_conflict_for_the_same_id_with_another_body():
    record_event(deposit())
    with pytest.raises(EventConflict):
        record_event(deposit(amount="60"))
    assert bodies("money_transaction")[0]["amount"] == 50


def test_it_names_the_field_of_an_invalid_event():
    with pytest.raises(EventRejected) as caught:
        record_event(deposit(currency="EURO", date="2024-05-02T07:55:00"))
    assert set(caught.value.errors) == {"currency", "date"}
    assert OutboxMessage.objects.count() == 0


def test_it_names_nested_fields_with_their_index():
    event = casino_round()
    event["transactions"][1]["date"] = "yesterday"
    with pytest.raises(EventRejected) as caught:
        record_event(event)
    assert list(caught.value.errors) == ["transactions.1.date"]


def test_it_reports_pep_rules_under_the_operator_field_names():
    event = casino_round()
    event["transactions"] = [dict(event["transactions"][0], realMoneyAmount="0")]
    with pytest.raises(EventRejected) as caught:
        record_event(event)
    assert "transactions.0.realMoneyAmount" in caught.value.errors


def test_it_requires_an_exchange_rate_outside_the_instance_currency():
    with pytest.raises(EventRejected) as caught:
        record_event(deposit(currency="CHF"))
    assert "exchangeRate" in caught.value.errors


def test_it_refuses_an_unknown_event_type():
    with pytest.raises(EventRejected) as caught:
        record_event({"type": "jackpot", "playerId": "p-1"})
    assert list(caught.value.errors) == ["type"]


def test_it_refuses_events_of_unknown_players():
    with pytest.raises(EventRejected) as caught:
        record_event(deposit(playerId="ghost"))
    assert "Unknown player" in caught.value.errors["playerId"][0]


def test_it_refuses_events_of_erased_players(player):
    Player.objects.filter(pk=player.pk).update(erased_at=timezone.now())
    with pytest.raises(EventRejected) as caught:
        record_event(deposit())
    assert "erased" in caught.value.errors["playerId"][0]


def test_it_refuses_an_event_dated_in_the_future():
    with pytest.raises(EventRejected) as caught:
        record_event(deposit(date="2999-01-01T00:00:00Z"))
    assert list(caught.value.errors) == ["date"]


def test_it_accepts_a_non_approved_deposit_without_sending_it():
    result = record_event(deposit(transactionStatus="PENDING"))
    assert result.status == "accepted"
    assert "not sent" in result.message
    assert OutboxMessage.objects.count() == 0


def test_it_writes_in_the_callers_transaction():
    with pytest.raises(RuntimeError), transaction.atomic():
        record_event(deposit())
        raise RuntimeError("the operator's own work failed")
    assert OutboxMessage.objects.count() == 0


def test_it_keeps_the_valid_items_of_a_batch():
    bad = deposit(transactionId="d-2", amount="-5")
    results = ingest_events([deposit(), bad, casino_round(), deposit()])
    assert [r.status for r in results] == ["accepted", "rejected", "accepted", "duplicate"]
    assert results[1].errors == {"amount": ["Ensure this value is greater than or equal to 0."]}
    assert OutboxMessage.objects.count() == 2


def test_it_reports_a_conflict_inside_one_batch():
    results = ingest_events([deposit(), deposit(amount="70")])
    assert [r.status for r in results] == ["accepted", "conflict"]


def test_it_rejects_a_non_object_item_without_failing_the_batch():
    results = ingest_events(["nope", deposit()])
    assert [r.status for r in results] == ["rejected", "accepted"]


def test_it_refuses_a_batch_of_more_than_1000_items():
    with pytest.raises(EventRejected) as caught:
        ingest_events([deposit(transactionId=f"d-{i}") for i in range(1001)])
    assert "at most 1,000" in caught.value.errors["events"][0]
    assert OutboxMessage.objects.count() == 0


def test_it_does_not_change_the_callers_dict():
    event = casino_round()
    before = copy.deepcopy(event)
    record_event(event)
    assert event == before


def test_a_refused_event_leaves_the_callers_transaction_usable():
    with transaction.atomic():
        record_event(deposit())
        with pytest.raises(EventRejected):
            record_event(deposit(transactionId="d-2", currency="X"))
        with pytest.raises(EventConflict):
            record_event(deposit(amount="99"))
        record_event(deposit(transactionId="d-3"))
    assert OutboxMessage.objects.count() == 2


# --- casino rounds: idempotent per transaction id ---------------------------------------------


def _bet_only(**overrides: Any) -> dict[str, Any]:
    event = casino_round(**overrides)
    event["transactions"] = event["transactions"][:1]
    return event


def _sent_transaction_ids() -> list[list[str]]:
    return [
        [row["transactionId"] for row in body["gameTransactionRound"]]
        for body in bodies("game_round")
    ]


def test_a_round_resent_with_its_win_sends_only_the_win():
    record_event(_bet_only())
    result = record_event(casino_round())
    assert result.status == "accepted"
    assert "t-1" in result.message
    assert _sent_transaction_ids() == [["t-1"], ["t-2"]]
    win = OutboxMessage.objects.order_by("pk").last()
    assert win.dedup_key == "game_round:r-1:t-2"


def test_a_round_resent_whole_after_its_parts_is_a_duplicate():
    record_event(_bet_only())
    record_event(casino_round())
    assert record_event(casino_round()).status == "duplicate"
    assert record_event(_bet_only()).status == "duplicate"
    assert _sent_transaction_ids() == [["t-1"], ["t-2"]]


def test_the_bet_resent_alone_after_the_whole_round_is_a_duplicate():
    record_event(casino_round())
    assert record_event(_bet_only()).status == "duplicate"
    assert _sent_transaction_ids() == [["t-1", "t-2"]]


def test_a_transaction_resent_with_other_content_is_a_conflict_and_writes_nothing():
    record_event(_bet_only())
    event = casino_round()
    event["transactions"][0]["realMoneyAmount"] = "3"
    with pytest.raises(EventConflict, match="t-1"):
        record_event(event)
    assert _sent_transaction_ids() == [["t-1"]]


def test_the_same_transaction_ids_in_another_round_are_another_round():
    record_event(_bet_only())
    record_event(_bet_only(roundId="r-1:2"))
    assert _sent_transaction_ids() == [["t-1"], ["t-1"]]


def test_a_batch_with_the_bet_then_the_whole_round_sends_each_transaction_once():
    results = ingest_events([_bet_only(), casino_round(), casino_round()])
    assert [r.status for r in results] == ["accepted", "accepted", "duplicate"]
    assert _sent_transaction_ids() == [["t-1"], ["t-2"]]


def test_a_batch_settles_rounds_against_what_earlier_requests_sent():
    record_event(_bet_only())
    other = _bet_only(roundId="r-2")
    results = ingest_events([casino_round(), other])
    assert [r.status for r in results] == ["accepted", "accepted"]
    assert _sent_transaction_ids() == [["t-1"], ["t-2"], ["t-1"]]
