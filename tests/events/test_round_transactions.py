"""Round idempotency as a table: (round, transaction) unique, written with the outbox row.

The behaviour (a resent WIN alone goes out, a changed transaction is a conflict) is covered in
test_ingestion_service.py; these tests hold what the table itself promises: one record per
transaction sent, kept exactly as long as its outbox row, a race refused by the database, and
a deploy onto a live outbox that knows every round already sent.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from events.messages import build_game_round
from events.models import OutboxMessage, RoundTransaction
from pepbridge.pep import wire
from players.event_ingestion import EventConflict, record_event
from players.event_kinds import EVENT_KINDS
from players.models import Player
from tests.players.test_event_ingestion_service import casino_round

BEFORE = [("events", "0007_outbox_lanes")]


@pytest.fixture
def player(db: Any) -> Player:
    return Player.objects.create(player_id="p-1", currency="EUR")


def _bet_only(**overrides: Any) -> dict[str, Any]:
    event = casino_round(**overrides)
    event["transactions"] = event["transactions"][:1]
    return event


def _records() -> set[tuple[str, str, int]]:
    return set(RoundTransaction.objects.values_list("round_id", "transaction_id", "message_id"))


@pytest.mark.django_db
def test_each_transaction_sent_is_recorded_once_with_the_message_that_carries_it(player) -> None:
    record_event(_bet_only())
    record_event(casino_round())  # the WIN alone goes out
    record_event(casino_round())  # a duplicate: nothing new
    bet, win = OutboxMessage.objects.order_by("pk")
    assert _records() == {("r-1", "t-1", bet.pk), ("r-1", "t-2", win.pk)}


@pytest.mark.django_db
def test_a_conflict_records_nothing(player) -> None:
    record_event(_bet_only())
    changed = casino_round()
    changed["transactions"][0]["realMoneyAmount"] = "3"
    with pytest.raises(EventConflict):
        record_event(changed)
    assert {(r, t) for r, t, _ in _records()} == {("r-1", "t-1")}


@pytest.mark.django_db
def test_a_round_is_forgotten_with_its_outbox_row(player) -> None:
    """The window is the outbox's retention: pruning the row frees its transaction ids."""
    record_event(_bet_only())
    OutboxMessage.objects.all().delete()  # what outbox_prune does to old delivered rows
    assert not RoundTransaction.objects.exists()
    assert record_event(_bet_only()).status == "accepted"


@pytest.mark.django_db
def test_the_database_refuses_a_transaction_recorded_twice(player) -> None:
    record_event(_bet_only())
    row = OutboxMessage.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        RoundTransaction.objects.create(
            round_id="r-1", transaction_id="t-1", fingerprint="0" * 64, message=row
        )


def _round_message(round_id: str, transactions: slice) -> Any:
    """An outbox row as the code before this table wrote it (the builder, canonical bytes)."""
    kind = EVENT_KINDS["casino_round"]
    data = kind.serializer().run_validation(casino_round(roundId=round_id))
    round_ = kind.round_input(data)
    return build_game_round(replace(round_, transactions=round_.transactions[transactions]))


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_the_table_from_a_live_outbox(player) -> None:
    executor = MigrationExecutor(connection)
    after = executor.loader.graph.leaf_nodes("events")
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps.get_model("events", "OutboxMessage")
    now = timezone.now()
    # A round sent in two parts, and a round whose id contains ':' like its key's separator.
    for round_id, part in (("r-1", slice(0, 1)), ("r-1", slice(1, 2)), ("r:9", slice(0, 2))):
        message = _round_message(round_id, part)
        old.objects.create(
            message_type="game_round", method="POST", path=message.path,
            body=wire.dumps(message.body).decode(), fingerprint="x", player_id="p-1",
            dedup_key=message.dedup_key, occurred_at=now, next_attempt_at=now,
        )  # fmt: skip
    old.objects.create(
        message_type="money_transaction", method="POST", path="/x", body='{"a":1}',
        fingerprint="y", player_id="p-1", dedup_key="money:d-1", occurred_at=now,
        next_attempt_at=now,
    )  # fmt: skip
    MigrationExecutor(connection).migrate(after)

    assert {(r, t) for r, t, _ in _records()} == {
        ("r-1", "t-1"),
        ("r-1", "t-2"),
        ("r:9", "t-1"),
        ("r:9", "t-2"),
    }
    # The new code reads them: the whole round again is a duplicate, a changed BET a conflict.
    assert record_event(casino_round()).status == "duplicate"
    assert record_event(casino_round(roundId="r:9")).status == "duplicate"
    changed = casino_round()
    changed["transactions"][0]["realMoneyAmount"] = "3"
    with pytest.raises(EventConflict):
        record_event(changed)
    assert OutboxMessage.objects.count() == 4


def test_every_event_kind_is_built_one_way() -> None:
    """A round is built only from its round input (settled first); every other kind by `build`."""
    for name, kind in EVENT_KINDS.items():
        assert (kind.build is None) != (kind.round_input is None), name
    assert EVENT_KINDS["casino_round"].build is None
