"""Right to erasure in the outbox: personal request bodies are redacted, unsent ones cancelled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from events import forwarding, selectors
from events.models import DeliveryAttempt, OutboxMessage
from events.services import outbox_redact_player, replay_failed
from events.services.redaction import REDACTED_BODY, REDACTED_TEXT
from events.services.subscriptions import subscription_create
from players import services as player_services
from tests.events.outbox_fixtures import message, put
from tests.players.conftest import player_data

pytestmark = pytest.mark.django_db
Status = OutboxMessage.Status
MOMENT = datetime(2024, 5, 2, 8, 0, tzinfo=UTC)


def _register(player_id: str = "p-1") -> dict[str, OutboxMessage]:
    """A player with tags and a consent: registration, profile, tags and consent rows."""
    consent = {"channel": "email", "granted": True, "changed_at": MOMENT}
    data = player_data(player_id, tags=["vip"], consents=[consent])
    player_services.player_create(data=data)
    rows = OutboxMessage.objects.filter(player_id=player_id)
    return {row.message_type: row for row in rows}


def _attempt(row: OutboxMessage, excerpt: str) -> DeliveryAttempt:
    return DeliveryAttempt.objects.create(
        message=row,
        started_at=timezone.now(),
        duration_ms=12,
        status_code=400,
        outcome=DeliveryAttempt.Outcome.FAILED,
        error_class="PepPermanentError",
        error_excerpt=excerpt,
        trigger=OutboxMessage.Trigger.SCHEDULED,
    )


def test_it_cancels_and_redacts_pending_profile_rows():
    rows = _register()
    assert outbox_redact_player(player_id="p-1") == 3  # profile, tags, consents
    for message_type in ("player_update", "player_tags", "player_marketing_preferences"):
        row = OutboxMessage.objects.get(pk=rows[message_type].pk)
        assert row.status == Status.CANCELLED
        assert row.body == REDACTED_BODY
        assert "anna" not in row.body.lower()
        assert row.fingerprint != rows[message_type].fingerprint
        assert (row.method, row.path) == (rows[message_type].method, rows[message_type].path)


def test_it_leaves_rows_without_personal_data_alone():
    rows = _register()
    [transaction_row] = put(message("p-1", 1))
    outbox_redact_player(player_id="p-1")
    registration = OutboxMessage.objects.get(pk=rows["player_registration"].pk)
    assert registration.status == Status.PENDING
    assert registration.body == rows["player_registration"].body
    assert OutboxMessage.objects.get(pk=transaction_row.pk).body == transaction_row.body


def test_it_leaves_other_players_rows_alone():
    _register("p-1")
    other = _register("p-2")["player_update"]
    outbox_redact_player(player_id="p-1")
    row = OutboxMessage.objects.get(pk=other.pk)
    assert (row.status, row.body) == (Status.PENDING, other.body)


def test_it_redacts_a_delivered_row_but_keeps_its_audit_trail():
    row = _register()["player_update"]
    OutboxMessage.objects.filter(pk=row.pk).update(
        status=Status.DELIVERED, delivered_at=timezone.now(), attempts=2, last_status_code=200
    )
    attempt = _attempt(row, 'rejected: email "anna@example.com" is taken')
    outbox_redact_player(player_id="p-1")
    row.refresh_from_db()
    assert (row.status, row.body, row.attempts, row.last_status_code) == (
        Status.DELIVERED,
        REDACTED_BODY,
        2,
        200,
    )
    attempt.refresh_from_db()
    assert (attempt.status_code, attempt.error_class) == (400, "PepPermanentError")
    assert attempt.error_excerpt == REDACTED_TEXT


def test_it_cancels_a_dead_letter_so_a_replay_cannot_send_it():
    row = _register()["player_tags"]
    OutboxMessage.objects.filter(pk=row.pk).update(
        status=Status.FAILED, failed_at=timezone.now(), last_error='tag "anna-vip" too long'
    )
    _attempt(row, 'tag "anna-vip" too long')
    outbox_redact_player(player_id="p-1")
    row.refresh_from_db()
    assert row.status == Status.CANCELLED
    assert "anna" not in row.last_error
    assert row.deliveries.get().error_excerpt == REDACTED_TEXT
    assert replay_failed(actor="ops", player_id="p-1") == 0


def test_it_takes_a_row_away_from_the_worker_sending_it():
    row = _register()["player_update"]
    lease = timezone.now() + timedelta(minutes=1)
    OutboxMessage.objects.filter(pk=row.pk).update(claimed_by="w1:abc", lease_expires_at=lease)
    outbox_redact_player(player_id="p-1")
    row.refresh_from_db()
    assert (row.status, row.claimed_by, row.lease_expires_at) == (Status.CANCELLED, "", None)


def test_it_never_offers_a_cancelled_row_to_the_workers():
    rows = _register()
    outbox_redact_player(player_id="p-1")
    due = {row.message_type for row in selectors.heads(timezone.now() + timedelta(days=1))}
    assert due == {"player_registration"}
    assert rows["player_update"].pk not in {
        row.pk for row in selectors.due_heads(timezone.now() + timedelta(days=1))
    }


def test_it_redacts_once_when_asked_twice():
    _register()
    assert outbox_redact_player(player_id="p-1") == 3
    assert outbox_redact_player(player_id="p-1") == 0


def test_player_erase_redacts_in_the_same_transaction_and_still_queues_the_delete():
    _register()
    player_services.player_erase(player_id="p-1")
    statuses = dict(OutboxMessage.objects.values_list("message_type", "status"))
    assert statuses == {
        "player_registration": Status.PENDING,
        "player_update": Status.CANCELLED,
        "player_tags": Status.CANCELLED,
        "player_marketing_preferences": Status.CANCELLED,
        "player_delete": Status.PENDING,
    }
    bodies = "".join(OutboxMessage.objects.exclude(body=None).values_list("body", flat=True))
    assert "Anna" not in bodies
    assert "anna@example.com" not in bodies


def test_it_redacts_the_players_crm_trigger_rows_too():
    _register()
    crm = message("p-1", 9, message_type="crm_trigger")
    (row,) = put(crm)
    outbox_redact_player(player_id="p-1")
    row.refresh_from_db()
    assert (row.status, row.body) == (Status.CANCELLED, REDACTED_BODY)


def test_it_cancels_and_redacts_the_players_forwarded_events():
    subscription = subscription_create(name="crm", url="https://crm.test/h", event_types=[])
    when = timezone.now() - timedelta(minutes=1)
    with transaction.atomic():
        forwarding.forward([
            forwarding.Event("pep.product_purchase", "k-1", {"playerId": "p-1", "x": "Ana"}, when,
                             "p-1"),
            forwarding.Event("pep.level_up", "k-2", {"playerId": "p-2"}, when, "p-2"),
        ])  # fmt: skip
    assert outbox_redact_player(player_id="p-1") == 1
    mine = OutboxMessage.objects.get(player_id="p-1")
    assert (mine.status, mine.body) == (Status.CANCELLED, REDACTED_BODY)
    other = OutboxMessage.objects.get(player_id="p-2")
    assert other.status == Status.PENDING and other.subscription == subscription.subscription
