"""enqueue(): the outbox row is written in the caller's transaction, exactly once per key."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime
from unittest import mock

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from events.models import OutboxMessage
from events.outbox import (
    ConflictingMessage,
    DuplicateMessage,
    PepMessage,
    TransactionRequired,
    enqueue,
    enqueue_many,
)
from pepbridge.pep import wire
from tests.events.outbox_fixtures import message

pytestmark = pytest.mark.django_db


def test_it_stores_the_exact_bytes_and_their_fingerprint() -> None:
    with transaction.atomic():
        row = enqueue(message("p-1", 1, amount="10.10"))
    row.refresh_from_db()
    expected = b'{"amount":10.10,"playerId":"p-1","seq":1}'
    assert row.body_bytes() == expected.replace(b"10.10", b"10.1")
    digest = hashlib.sha256(b"POST /rx-api/test/game_round\n+" + row.body_bytes()).hexdigest()
    assert row.fingerprint == digest
    assert row.status == OutboxMessage.Status.PENDING
    assert row.player_id == "p-1"
    assert row.attempts == 0


def test_it_stores_no_body_for_a_delete() -> None:
    with transaction.atomic():
        row = enqueue(PepMessage("player_delete", "DELETE", "/api/p/p-1", None, "p-1"))
    row.refresh_from_db()
    assert row.body is None
    assert row.body_bytes() is None


@pytest.mark.django_db(transaction=True)
def test_it_refuses_to_run_outside_a_transaction() -> None:
    with pytest.raises(TransactionRequired):
        enqueue(message("p-1", 1))
    assert not OutboxMessage.objects.exists()


def test_it_rolls_back_with_the_callers_transaction() -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue(message("p-1", 1))
        raise RuntimeError("the business change failed")
    assert not OutboxMessage.objects.exists()


def test_it_raises_duplicate_for_a_repeated_key_and_leaves_the_transaction_usable() -> None:
    with transaction.atomic():
        first = enqueue(message("p-1", 1, dedup_key="money:t-1"))
        with pytest.raises(DuplicateMessage) as caught:
            enqueue(message("p-1", 1, dedup_key="money:t-1"))
        second = enqueue(message("p-1", 2, dedup_key="money:t-2"))  # still usable
    assert caught.value.existing.pk == first.pk
    assert OutboxMessage.objects.count() == 2
    assert second.pk != first.pk


def test_it_raises_conflict_for_a_repeated_key_with_another_body() -> None:
    with transaction.atomic():
        first = enqueue(message("p-1", 1, dedup_key="money:t-1"))
        with pytest.raises(ConflictingMessage) as caught:
            enqueue(message("p-1", 1, dedup_key="money:t-1", amount="99"))
    assert caught.value.existing.pk == first.pk
    assert OutboxMessage.objects.count() == 1


def test_it_allows_many_rows_without_a_key() -> None:
    with transaction.atomic():
        enqueue(message("p-1", 1))
        enqueue(message("p-1", 1))
    assert OutboxMessage.objects.count() == 2


def test_it_writes_one_insert_for_a_message() -> None:
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        enqueue(message("p-1", 1, dedup_key="money:t-9"))
    sql = [query["sql"].lstrip().upper() for query in queries.captured_queries]
    inserts = [
        statement.split()[2].strip('"') for statement in sql if statement.startswith("INSERT")
    ]
    # The row, and its player's lane (created or its version bumped) in the same transaction.
    assert inserts == ["EVENTS_OUTBOXMESSAGE", "EVENTS_OUTBOXLANE"]


def test_it_uses_occurred_at_or_the_enqueue_time() -> None:
    moment = datetime.fromisoformat("2026-01-02T03:04:05+00:00")
    with transaction.atomic():
        given = enqueue(message("p-1", 1, occurred_at=moment))
        default = enqueue(message("p-1", 2))
    assert given.occurred_at == moment
    assert default.occurred_at == default.created_at


def test_it_rejects_a_naive_occurred_at_and_an_unknown_method() -> None:
    with transaction.atomic():
        with pytest.raises(ValueError, match="timezone-aware"):
            enqueue(message("p-1", 1, occurred_at=datetime(2026, 1, 1)))  # noqa: DTZ001
        with pytest.raises(ValueError, match="method"):
            enqueue(PepMessage("x", "GET", "/api/x", None, None))


def test_it_queues_one_delivery_task_on_commit_for_a_burst(django_capture_on_commit_callbacks):
    cache.clear()
    with mock.patch("django_q.tasks.async_task") as async_task:
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            enqueue(message("p-1", 1))
            enqueue(message("p-2", 1))
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            enqueue(message("p-3", 1))
    async_task.assert_called_once_with("events.tasks.deliver_due", trigger="kick", group="outbox")


def test_it_queues_nothing_when_the_transaction_rolls_back(django_capture_on_commit_callbacks):
    cache.clear()
    with (
        mock.patch("django_q.tasks.async_task") as async_task,
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        enqueue(message("p-1", 1))
        raise RuntimeError
    assert callbacks == []
    async_task.assert_not_called()


# --- enqueue_many: the batch form, and bytes a builder already encoded ---------------------------


def test_enqueue_many_gives_one_outcome_per_message_in_order() -> None:
    with transaction.atomic():
        existing = enqueue(message("p-1", 1, dedup_key="money:t-1"))
        outcomes = enqueue_many(
            [
                message("p-1", 2, dedup_key="money:t-2"),
                message("p-1", 1, dedup_key="money:t-1"),  # same request as `existing`
                message("p-1", 1, dedup_key="money:t-1", amount="9"),  # same key, other body
                message("p-2", 1),
                message("p-1", 2, dedup_key="money:t-2"),  # repeats the first of this call
                message("p-1", 3, dedup_key="money:t-2"),  # conflicts with it
            ]
        )
    written, duplicate, conflict, unkeyed, repeat, clash = outcomes
    assert isinstance(written, OutboxMessage)
    assert isinstance(unkeyed, OutboxMessage)
    assert isinstance(duplicate, DuplicateMessage)
    assert duplicate.existing.pk == existing.pk
    assert isinstance(conflict, ConflictingMessage)
    assert conflict.existing.pk == existing.pk
    assert isinstance(repeat, DuplicateMessage)
    assert repeat.existing.pk == written.pk
    assert isinstance(clash, ConflictingMessage)
    assert clash.existing.pk == written.pk
    assert OutboxMessage.objects.count() == 3


def test_enqueue_many_sets_each_rows_own_id_across_insert_chunks() -> None:
    messages = [message(f"p-{n}", n, dedup_key=f"money:{n}" if n % 3 else None) for n in range(300)]
    with transaction.atomic():
        existing = enqueue(message("p-7", 7, dedup_key="money:7"))  # skipped in the middle
        outcomes = enqueue_many(messages)
    assert isinstance(outcomes[7], DuplicateMessage)
    assert outcomes[7].existing.pk == existing.pk
    rows = [outcome for outcome in outcomes if isinstance(outcome, OutboxMessage)]
    assert len(rows) == 299
    stored = {row.pk: row for row in OutboxMessage.objects.all()}
    for row in rows:
        assert stored[row.pk].body == row.body
        assert stored[row.pk].dedup_key == row.dedup_key


def test_enqueue_many_writes_a_batch_with_one_insert_and_no_savepoint() -> None:
    messages = [message("p-1", n, dedup_key=f"money:{n}") for n in range(20)]
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        enqueue_many(messages)
    sql = [query["sql"].lstrip().upper() for query in queries.captured_queries]
    assert [statement.split()[0] for statement in sql] == ["INSERT", "INSERT"]  # rows, lane


def test_enqueue_many_leaves_the_transaction_usable_after_repeats() -> None:
    with transaction.atomic():
        enqueue_many([message("p-1", 1, dedup_key="money:t-1")])
        enqueue_many([message("p-1", 1, dedup_key="money:t-1")] * 2)
        enqueue(message("p-1", 2, dedup_key="money:t-2"))
    assert OutboxMessage.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_enqueue_many_refuses_to_run_outside_a_transaction() -> None:
    with pytest.raises(TransactionRequired):
        enqueue_many([message("p-1", 1)])


def test_it_stores_the_bytes_a_builder_encoded_without_encoding_again() -> None:
    built = message("p-1", 1, amount="2.50")
    encoded = wire.dumps(built.body)
    with transaction.atomic(), mock.patch.object(wire, "dumps") as dumps:
        row = enqueue(built.with_encoded_body(encoded))
    dumps.assert_not_called()
    assert row.body_bytes() == encoded == b'{"amount":2.5,"playerId":"p-1","seq":1}'


def test_a_replaced_body_does_not_keep_the_old_bytes() -> None:
    built = message("p-1", 1).with_encoded_body(b'{"stale":true}')
    changed = replace(built, body={"fresh": True})
    assert changed.encoded_body is None
    with transaction.atomic():
        row = enqueue(changed)
    assert row.body_bytes() == b'{"fresh":true}'
