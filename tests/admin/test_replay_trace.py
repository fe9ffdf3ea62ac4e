"""A replay leaves a lasting trace on its row (who, when, how often), apart from `trigger`."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from events import services
from events.models import OutboxMessage
from tests.events.outbox_fixtures import BASE, message, put

pytestmark = pytest.mark.django_db
URL = f"{BASE}/rx-api/test/game_round"
OUTBOX = reverse("admin:events_outboxmessage_changelist")


def drain(pep_client) -> int:
    return services.drain(max_seconds=5, worker="w1", client=pep_client, sleep=lambda s: None)


def test_a_delivered_replay_keeps_who_and_when_and_the_filter_finds_it(
    outbox_pep, outbox_client, support
) -> None:
    outbox_pep.post(URL, status=400)
    outbox_pep.post(URL, status=200)
    (row,) = put(message("p-1", 1))
    drain(outbox_client)
    before = timezone.now()
    services.replay_failed(actor="lena", message_ids=[row.pk])
    drain(outbox_client)
    row.refresh_from_db()
    assert (row.status, row.trigger) == ("delivered", "scheduled")
    assert (row.replayed_by, row.replay_count) == ("lena", 1)
    assert row.replayed_at >= before
    listed = support.get(f"{OUTBOX}?replayed=yes").context["cl"].result_list
    assert [r.pk for r in listed] == [row.pk]


def test_each_replay_counts_and_the_last_one_names_its_actor() -> None:
    (row,) = put(message("p-1", 1))
    for actor in ("a", "b"):
        OutboxMessage.objects.filter(pk=row.pk).update(status="failed")
        services.replay_failed(actor=actor, message_ids=[row.pk])
    row.refresh_from_db()
    assert (row.replayed_by, row.replay_count) == ("b", 2)
