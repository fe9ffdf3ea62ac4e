"""The worker's split of stored deliveries: each event stored once, copies counted, in order."""

from __future__ import annotations

import json
from typing import Any

from events.models import OutboxMessage
from events.services.subscriptions import subscription_create
from tests.webhooks.conftest import event, level_up, split_all
from webhooks.models import InboxEvent, WebhookDelivery
from webhooks.splitting import deliveries_split


def test_copies_across_and_within_deliveries_of_one_batch_are_counted_on_the_stored_event(
    post_events: Any,
) -> None:
    post_events([level_up("p-1")])
    assert split_all() == 1  # stored before the batch below
    post_events([level_up("p-2"), level_up("p-2")])  # a copy within one request
    post_events([level_up("p-2"), level_up("p-1")])  # a copy of each, in a later request
    post_events([level_up("p-3")])

    assert deliveries_split() == 3  # one batch

    copies = dict(InboxEvent.objects.values_list("player_ref", "duplicate_count"))
    assert copies == {"p-1": 1, "p-2": 2, "p-3": 0}
    new = list(WebhookDelivery.objects.order_by("pk").values_list("new_event_count", flat=True))
    assert new == [1, 1, 0, 1]
    owners = dict(InboxEvent.objects.values_list("player_ref", "delivery_id"))
    first_of_p2 = WebhookDelivery.objects.order_by("pk")[1].pk
    assert owners["p-2"] == first_of_p2  # stored from the delivery that brought it first


def test_a_batch_splits_at_most_its_size_oldest_first(post_events: Any) -> None:
    for n in range(5):
        post_events([level_up(f"p-{n}")])

    assert deliveries_split(batch=2) == 2
    assert sorted(InboxEvent.objects.values_list("player_ref", flat=True)) == ["p-0", "p-1"]
    assert split_all() == 3


def test_new_events_are_forwarded_in_arrival_order_and_copies_are_not(post_events: Any) -> None:
    target = subscription_create(name="crm", url="https://crm.test/h", event_types=[])
    post_events([event("rank_up", "p-1"), level_up("p-2")])
    post_events([level_up("p-2"), event("mission_complete", "p-1")])

    split_all()

    rows = OutboxMessage.objects.filter(subscription=target.subscription).order_by("pk")
    bodies = [json.loads(row.body) for row in rows]
    assert [(body["type"], body["data"]["playerId"]) for body in bodies] == [
        ("pep.rank_up", "p-1"),
        ("pep.level_up", "p-2"),
        ("pep.mission_complete", "p-1"),
    ]
