"""Replaying dead letters: one UPDATE, same bytes, player order kept, never twice, recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from events import services
from events.models import DeliveryAttempt, OutboxMessage, Replay
from tests.events.outbox_fixtures import BASE, message, put, sent_bodies

pytestmark = pytest.mark.django_db
URL = f"{BASE}/rx-api/test/game_round"
Status = OutboxMessage.Status


def drain(pep_client) -> int:
    return services.drain(max_seconds=5, worker="w1", client=pep_client, sleep=lambda s: None)


def dead(*rows: OutboxMessage, error_class: str = "http_400") -> None:
    OutboxMessage.objects.filter(id__in=[r.pk for r in rows]).update(
        status=Status.FAILED, failed_at=timezone.now(), last_error_class=error_class, attempts=1
    )


def test_a_replayed_row_is_sent_again_with_the_same_bytes(outbox_pep, outbox_client) -> None:
    outbox_pep.post(URL, status=400)
    outbox_pep.post(URL, status=200)
    (row,) = put(message("p-1", 1))
    drain(outbox_client)
    assert services.replay_failed(actor="ops@x", message_ids=[row.pk]) == 1
    drain(outbox_client)
    row.refresh_from_db()
    assert row.status == Status.DELIVERED
    assert sent_bodies(outbox_pep) == [row.body_bytes(), row.body_bytes()]
    triggers = list(row.deliveries.order_by("id").values_list("trigger", flat=True))
    assert triggers == ["scheduled", "replay"]


def test_a_replay_triggered_twice_re_arms_once() -> None:
    rows = put(message("p-1", 1), message("p-2", 1))
    dead(*rows)
    assert services.replay_failed(actor="a", message_type="game_round") == 2
    assert services.replay_failed(actor="b", message_type="game_round") == 0
    assert list(Replay.objects.order_by("id").values_list("actor", "count")) == [("a", 2), ("b", 0)]
    assert OutboxMessage.objects.filter(status=Status.PENDING, trigger="replay").count() == 2


def test_a_replay_filters_by_type_player_error_class_and_window() -> None:
    a, b, c, d = put(
        message("p-1", 1),
        message("p-2", 1, message_type="other"),
        message("p-3", 1),
        message("p-4", 1),
    )
    dead(a, b, c)
    dead(d, error_class="http_503")
    OutboxMessage.objects.filter(pk=c.pk).update(failed_at=timezone.now() - timedelta(days=2))
    since = timezone.now() - timedelta(days=1)
    count = services.replay_failed(
        actor="ops", message_type="game_round", error_class="http_400", since=since
    )
    assert count == 1
    assert OutboxMessage.objects.get(pk=a.pk).status == Status.PENDING
    assert set(OutboxMessage.objects.filter(status=Status.FAILED).values_list("id", flat=True)) == {
        b.pk,
        c.pk,
        d.pk,
    }
    assert services.replay_failed(actor="ops", player_id="p-4") == 1
    replay = Replay.objects.order_by("id").first()
    assert replay.filter == {
        "message_type": "game_round",
        "error_class": "http_400",
        "since": since.isoformat(),
    }


def test_a_replay_keeps_the_players_order(outbox_pep, outbox_client) -> None:
    outbox_pep.post(URL, status=200)
    first, second = put(message("p-1", 1), message("p-1", 2))
    dead(first)  # the second is still waiting: the replayed first must go before it
    services.replay_failed(actor="ops", message_ids=[first.pk])
    drain(outbox_client)
    assert sent_bodies(outbox_pep) == [first.body_bytes(), second.body_bytes()]


def test_ten_thousand_dead_letters_are_re_armed_by_one_update() -> None:
    now = timezone.now()
    OutboxMessage.objects.bulk_create(
        OutboxMessage(
            message_type="game_round",
            method="POST",
            path="/x",
            body=f'{{"n":{n}}}',
            fingerprint="f",
            player_id=f"p-{n % 500}",
            lane=f"p-{n % 500}",
            occurred_at=now,
            status=Status.FAILED,
            failed_at=now,
            last_error_class="http_400",
        )
        for n in range(10_000)
    )
    with CaptureQueriesContext(connection) as queries:
        count = services.replay_failed(actor="ops", error_class="http_400")
    assert count == 10_000
    updates = [q for q in queries.captured_queries if q["sql"].upper().startswith("UPDATE")]
    assert len(updates) == 1
    assert OutboxMessage.objects.filter(status=Status.PENDING).count() == 10_000


def test_the_command_replays_a_filter_and_refuses_an_empty_one(capsys) -> None:
    rows = put(message("p-1", 1), message("p-2", 1))
    dead(*rows)
    with pytest.raises(CommandError):
        call_command("outbox_replay")
    call_command("outbox_replay", "--player", "p-1", "--actor", "ops")
    assert "re-armed 1" in capsys.readouterr().out
    call_command("outbox_replay", "--all")
    assert not OutboxMessage.objects.filter(status=Status.FAILED).exists()
    assert Replay.objects.count() == 2


def test_send_now_makes_a_waiting_row_due_with_the_manual_trigger(
    outbox_pep, outbox_client
) -> None:
    outbox_pep.post(URL, status=200)
    (row,) = put(message("p-1", 1))
    OutboxMessage.objects.filter(pk=row.pk).update(
        next_attempt_at=timezone.now() + timedelta(hours=1)
    )
    assert drain(outbox_client) == 0
    assert services.send_now(message_ids=[row.pk]) == 1
    assert drain(outbox_client) == 1
    assert DeliveryAttempt.objects.get(message=row).trigger == "manual"


def test_cancelling_a_players_waiting_head_lets_the_next_row_go_at_once(
    outbox_pep, outbox_client
) -> None:
    outbox_pep.post(URL, status=200)
    head, behind = put(message("p-1", 1)) + put(message("p-1", 2))
    OutboxMessage.objects.filter(pk=head.pk).update(
        next_attempt_at=timezone.now() + timedelta(hours=1)
    )
    assert drain(outbox_client) == 0  # the head waits out its backoff, and its lane with it
    assert services.outbox_cancel(message_ids=[head.pk], actor="ops", reason="wrong amount") == 1
    assert drain(outbox_client) == 1
    behind.refresh_from_db()
    assert behind.status == Status.DELIVERED
