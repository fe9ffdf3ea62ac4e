"""Backfill: a subscription made later is sent the PEP events stored before it, once."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from events.models import OutboxMessage
from events.services.subscriptions import subscription_create, subscription_set_enabled
from tests.webhooks.conftest import event, level_up, split_all
from webhooks.forwarding import inbox_backfill
from webhooks.models import InboxEvent

pytestmark = pytest.mark.django_db
HOOK = "https://operator.test/pep-hook"


def forwarded(subscription) -> list[tuple[str, str]]:
    rows = OutboxMessage.objects.filter(subscription=subscription).order_by("pk")
    return [(json.loads(r.body)["type"], json.loads(r.body)["data"]["playerId"]) for r in rows]


def test_a_later_subscription_gets_the_stored_events_of_its_types_once(post_events):
    assert (
        post_events([level_up("p-1", 3), event("rank_up", "p-2"), level_up("p-3", 4)]).status_code
        == 202
    )
    split_all()
    target = subscription_create(name="crm", url=HOOK, event_types=["pep.level_up"]).subscription
    assert forwarded(target) == []  # from its creation on only
    since = timezone.now() - timedelta(hours=1)
    chunks = list(inbox_backfill(target, since=since, chunk=2))
    assert chunks == [(2, 1), (1, 1)]  # three events read in two chunks, the two level-ups queued
    assert forwarded(target) == [("pep.level_up", "p-1"), ("pep.level_up", "p-3")]
    assert sum(w for _, w in inbox_backfill(target, since=since)) == 0  # asked again: nothing new
    assert post_events([level_up("p-4", 5)]).status_code == 202  # live forwarding goes on
    split_all()
    assert sum(w for _, w in inbox_backfill(target, since=since)) == 0  # and is not doubled
    assert len(forwarded(target)) == 3


def test_events_received_before_the_moment_stay_behind(post_events):
    assert post_events([level_up("p-1", 3)]).status_code == 202
    split_all()
    InboxEvent.objects.update(received_at=timezone.now() - timedelta(days=10))
    target = subscription_create(name="crm", url=HOOK, event_types=[]).subscription
    call_command("webhooks_backfill", "crm", "--days", "7")
    assert forwarded(target) == []
    call_command("webhooks_backfill", str(target.pk), "--since", "2020-01-01T00:00:00Z")
    assert forwarded(target) == [("pep.level_up", "p-1")]


def test_the_command_refuses_what_it_cannot_do():
    target = subscription_create(name="crm", url=HOOK, event_types=[]).subscription
    with pytest.raises(CommandError, match="no subscription"):
        call_command("webhooks_backfill", "nope", "--days", "1")
    with pytest.raises(CommandError, match="time zone"):
        call_command("webhooks_backfill", "crm", "--since", "2026-01-01T00:00")
    with pytest.raises(CommandError, match="1 or more"):
        call_command("webhooks_backfill", "crm", "--days", "0")
    with pytest.raises(CommandError, match="at most"):
        call_command("webhooks_backfill", "crm", "--days", "1000000000")
    subscription_set_enabled(subscription_ids=[target.pk], enabled=False)
    with pytest.raises(CommandError, match="disabled"):
        call_command("webhooks_backfill", "crm", "--days", "1")
