"""Concurrent copies of the same batch (PostgreSQL): every event is written exactly once."""

from __future__ import annotations

import itertools
import json
import threading
from collections import Counter

import pytest
from django.db import connection

from events.models import OutboxMessage
from players import services
from players.event_ingestion import ingest_events
from players.models import Player
from tests.players.conftest import player_data


def deposit(n: int) -> dict:
    return {
        "type": "money_transaction",
        "playerId": "p-1",
        "transactionId": f"d-{n}",
        "transactionType": "DEPOSIT",
        "transactionStatus": "APPROVED",
        "amount": "5",
        "currency": "EUR",
        "date": "2024-05-02T07:55:00Z",
        "realMoneyBalance": "100",
        "bonusMoneyBalance": "0",
    }


def run_in_threads(target, count: int) -> list:
    results: list = []
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def work() -> None:
        try:
            start.wait()
            results.append(target())
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_copies_of_a_batch_write_each_event_once():
    Player.objects.create(player_id="p-1")
    batch = [deposit(n) for n in range(50)]
    outcomes = run_in_threads(lambda: ingest_events(batch), 4)
    assert OutboxMessage.objects.count() == 50
    per_item = [Counter(result[i].status for result in outcomes) for i in range(50)]
    assert all(counts == {"accepted": 1, "duplicate": 3} for counts in per_item)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_of_one_player_register_it_once():
    outcomes = run_in_threads(lambda: services.player_create(data=player_data()), 4)
    assert sorted(change.created for change in outcomes) == [False, False, False, True]
    assert OutboxMessage.objects.filter(message_type="player_registration").count() == 1


def casino_round(round_id: str, *transaction_ids: str) -> dict:
    kinds = {"b": "BET", "w": "WIN"}
    return {
        "type": "casino_round",
        "playerId": "p-1",
        "roundId": round_id,
        "currency": "EUR",
        "gameId": "g-1",
        "gameName": "Starburst",
        "gameCategoryId": "slots",
        "gameCategoryName": "Slots",
        "gameProviderId": "netent",
        "gameProviderName": "NetEnt",
        "transactions": [
            {
                "transactionId": tx,
                "transactionType": kinds[tx[0]],
                "realMoneyAmount": "2",
                "bonusMoneyAmount": "0",
                "realMoneyBalance": "100",
                "bonusMoneyBalance": "0",
                "date": "2024-05-02T08:00:00Z",
            }
            for tx in transaction_ids
        ],
    }


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_overlapping_rounds_send_each_transaction_once():
    Player.objects.create(player_id="p-1")
    bets = [casino_round(f"r-{n}", f"b-{n}") for n in range(20)]
    whole = [casino_round(f"r-{n}", f"b-{n}", f"w-{n}") for n in range(20)]
    turn = itertools.count()  # two threads send the bets, two the whole rounds
    run_in_threads(lambda: ingest_events(bets if next(turn) % 2 else whole), 4)
    sent = Counter(
        row["transactionId"]
        for body in OutboxMessage.objects.values_list("body", flat=True)
        for row in json.loads(body)["gameTransactionRound"]
    )
    assert set(sent.values()) == {1}
    assert len(sent) == 40
