"""Forwarding to the operator's subscriptions through the outbox, signed per Standard Webhooks."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from events import forwarding
from events.models import DeliveryAttempt, EndpointState, OutboxMessage, WebhookSubscription
from events.services import delivery, endpoints
from events.services.claim import claim_lanes
from events.services.subscriptions import (
    subscription_create,
    subscription_rotate_secret,
    subscription_set_enabled,
)
from reconciliation.items import open_items
from reconciliation.models import ReconciliationRequest
from tests.events.outbox_fixtures import BASE, make_due, message, put
from tests.webhooks.conftest import event, level_up, split_all

pytestmark = pytest.mark.django_db
Status = OutboxMessage.Status
HOOK = "https://operator.test/pep-hook"
PEP_URL = f"{BASE}/rx-api/test/game_round"


def drain(client) -> int:
    return delivery.drain(max_seconds=5, worker="w1", client=client, sleep=lambda s: None)


def subscribe(url: str = HOOK, event_types: list[str] | None = None, name: str = "crm"):
    return subscription_create(name=name, url=url, event_types=event_types or [])


def forward(*events: forwarding.Event) -> int:
    with transaction.atomic():
        return forwarding.forward(list(events))


def an_event(n: int = 1, player: str | None = "p-1", kind: str = "pep.level_up"):
    when = timezone.now() - timedelta(minutes=5) + timedelta(seconds=n)
    return forwarding.Event(kind, f"test:{n}", {"n": n}, when, player)


def hook_calls(mock) -> list:
    return [call for call in mock.calls if call.request.url == HOOK]


def verify(issued, call) -> dict:
    """What the operator's receiver does: verify with the reference library, parse."""
    headers = {key.lower(): value for key, value in call.request.headers.items()}
    return Webhook(issued.secret).verify(call.request.body, headers)


def test_a_receiver_verifies_the_signature_with_standardwebhooks(outbox_pep, outbox_client):
    issued = subscribe()
    outbox_pep.post(HOOK, status=204)
    assert forward(an_event()) == 1
    assert drain(outbox_client) == 1
    (call,) = hook_calls(outbox_pep)
    payload = verify(issued, call)
    assert payload["type"] == "pep.level_up"
    assert payload["data"] == {"n": 1}
    row = OutboxMessage.objects.get()
    assert call.request.headers["webhook-id"] == row.webhook_id()
    assert (row.status, row.last_status_code) == (Status.DELIVERED, 204)
    assert "Authorization" not in call.request.headers  # PEP's token never goes to a receiver


def test_a_wrong_secret_or_a_changed_body_fails_verification(outbox_pep, outbox_client):
    issued = subscribe()
    other = subscribe(url="https://other.test/hook", name="other")
    outbox_pep.post(HOOK, status=200)
    outbox_pep.post("https://other.test/hook", status=200)
    forward(an_event())
    drain(outbox_client)
    (call,) = hook_calls(outbox_pep)
    headers = {key.lower(): value for key, value in call.request.headers.items()}
    with pytest.raises(WebhookVerificationError):
        Webhook(other.secret).verify(call.request.body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(issued.secret).verify(call.request.body + b" ", headers)


def test_the_id_stays_and_the_timestamp_is_fresh_on_every_attempt(
    outbox_pep, outbox_client, settings, monkeypatch
):
    settings.OUTBOX_QUICK_RETRIES = 0
    issued = subscribe()
    outbox_pep.post(HOOK, status=503)
    forward(an_event())
    sender = delivery.get_webhook_sender()
    monkeypatch.setattr(sender, "clock", lambda: 1_900_000_000.0)
    drain(outbox_client)
    outbox_pep.replace("POST", HOOK, status=200)
    monkeypatch.setattr(sender, "clock", lambda: 1_900_000_090.0)
    make_due()
    drain(outbox_client)
    first, second = hook_calls(outbox_pep)
    assert first.request.headers["webhook-id"] == second.request.headers["webhook-id"]
    stamps = [call.request.headers["webhook-timestamp"] for call in (first, second)]
    assert stamps == ["1900000000", "1900000090"]
    assert first.request.body == second.request.body  # the stored bytes, signed afresh
    assert first.request.headers["webhook-signature"] != second.request.headers["webhook-signature"]
    assert OutboxMessage.objects.get().status == Status.DELIVERED
    assert DeliveryAttempt.objects.count() == 2
    monkeypatch.undo()
    assert issued.secret.startswith("whsec_")


def test_a_receiver_that_is_down_does_not_hold_up_the_players_messages_to_pep(
    outbox_pep, outbox_client, settings
):
    settings.OUTBOX_QUICK_RETRIES = 0
    subscribe()
    outbox_pep.post(HOOK, status=503)
    outbox_pep.post(PEP_URL, status=200)
    forward(an_event(1, "p-1"))  # first in time: the player's head, for the subscription
    put(message("p-1", 1), message("p-1", 2))
    drain(outbox_client)
    to_pep = OutboxMessage.objects.filter(subscription__isnull=True)
    assert set(to_pep.values_list("status", flat=True)) == {Status.DELIVERED}
    forwarded = OutboxMessage.objects.get(subscription__isnull=False)
    assert forwarded.status == Status.PENDING and forwarded.attempts == 1
    assert forwarded.lane != forwarded.player_id == "p-1"


def test_a_players_events_reach_a_subscription_in_order_after_a_retry(
    outbox_pep, outbox_client, settings
):
    settings.OUTBOX_QUICK_RETRIES = 0
    issued = subscribe()
    outbox_pep.post(HOOK, status=500)
    forward(an_event(2), an_event(1), an_event(3))
    drain(outbox_client)
    assert len(hook_calls(outbox_pep)) == 1  # the head failed; the later two waited
    outbox_pep.replace("POST", HOOK, status=200)
    make_due()
    drain(outbox_client)
    got = [verify(issued, call)["data"]["n"] for call in hook_calls(outbox_pep)]
    assert got == [1, 1, 2, 3]


def test_each_subscription_is_its_own_circuit_breaker_endpoint(outbox_pep, outbox_client):
    issued = subscribe()
    outbox_pep.post(HOOK, status=200)
    forward(an_event())
    drain(outbox_client)
    assert EndpointState.objects.filter(message_type=f"webhook:{issued.subscription.pk}").exists()


def test_a_permanent_refusal_is_dead_lettered_with_the_answer(outbox_pep, outbox_client):
    subscribe()
    outbox_pep.post(HOOK, status=410, body="gone")
    forward(an_event())
    drain(outbox_client)
    row = OutboxMessage.objects.get()
    assert (row.status, row.last_status_code, row.last_error_class) == (
        Status.FAILED,
        410,
        "http_410",
    )
    assert "gone" in row.last_error


def test_rows_of_a_subscription_disabled_meanwhile_are_dead_lettered_unsent(
    outbox_pep, outbox_client
):
    issued = subscribe()
    forward(an_event())
    subscription_set_enabled(subscription_ids=[issued.subscription.pk], enabled=False)
    drain(outbox_client)
    row = OutboxMessage.objects.get()
    assert (row.status, row.last_error_class) == (Status.FAILED, "subscription_off")
    assert hook_calls(outbox_pep) == []


def test_only_enabled_subscriptions_that_want_the_type_get_a_row():
    wants_all = subscribe(name="all").subscription
    levels = subscribe(url="https://b.test/h", name="levels", event_types=["pep.level_up"])
    bridge = subscribe(url="https://c.test/h", name="bridge", event_types=["bridge.*"])
    off = subscribe(url="https://d.test/h", name="off").subscription
    subscription_set_enabled(subscription_ids=[off.pk], enabled=False)
    forward(an_event(1), an_event(2, kind="bridge.bonus_granted"))
    rows = OutboxMessage.objects.values_list("subscription", "body")
    got = sorted((target, json.loads(body)["type"]) for target, body in rows)
    assert got == sorted(
        [
            (wants_all.pk, "pep.level_up"),
            (wants_all.pk, "bridge.bonus_granted"),
            (levels.subscription.pk, "pep.level_up"),
            (bridge.subscription.pk, "bridge.bonus_granted"),
        ]
    )


def test_forwarding_the_same_event_again_writes_nothing():
    subscribe()
    assert forward(an_event()) == 1
    assert forward(an_event()) == 0
    assert OutboxMessage.objects.count() == 1


def test_every_stored_pep_event_is_forwarded_once_with_its_intake(post_events):
    issued = subscribe()
    events = [level_up("p-1", 3), event("rank_up", "p-2")]
    assert post_events(events).status_code == 202
    assert post_events([level_up("p-1", 3)]).status_code == 202  # PEP sending it again
    assert not OutboxMessage.objects.exists()  # the worker splits and forwards, not the request
    assert split_all() == 2
    rows = OutboxMessage.objects.filter(subscription=issued.subscription).order_by("pk")
    bodies = [json.loads(row.body) for row in rows]
    assert [(b["type"], b["data"]["playerId"]) for b in bodies] == [
        ("pep.level_up", "p-1"),
        ("pep.rank_up", "p-2"),
    ]
    assert bodies[0]["data"]["payload"] == events[0]["payload"]  # as PEP sent it
    assert [row.player_id for row in rows] == ["p-1", "p-2"]


def test_a_dead_lettered_message_to_pep_is_forwarded(outbox_pep, outbox_client):
    issued = subscribe(event_types=["bridge.message_dead_lettered"])
    outbox_pep.post(PEP_URL, status=400, body="bad")
    (row,) = put(message("p-1", 1))
    drain(outbox_client)
    forwarded = OutboxMessage.objects.get(subscription=issued.subscription)
    body = json.loads(forwarded.body)
    assert body["type"] == "bridge.message_dead_lettered"
    assert body["data"]["messageId"] == row.pk
    assert (body["data"]["statusCode"], body["data"]["errorClass"]) == (400, "http_400")


def test_a_dead_lettered_forwarded_row_is_not_forwarded_again(outbox_pep, outbox_client):
    subscribe()
    outbox_pep.post(HOOK, status=400)
    forward(an_event())
    drain(outbox_client)
    assert OutboxMessage.objects.count() == 1
    assert OutboxMessage.objects.get().status == Status.FAILED


def test_subscriptions_are_not_held_up_when_peps_token_cannot_be_had(outbox_pep, outbox_client):
    issued = subscribe()
    outbox_pep.replace("POST", f"{BASE}/api/oauth/v1/token", status=503)
    outbox_pep.post(HOOK, status=200)
    put(message("p-1", 1))
    forward(an_event(1, "p-2"))
    drain(outbox_client)
    forwarded = OutboxMessage.objects.get(subscription=issued.subscription)
    assert forwarded.status == Status.DELIVERED
    to_pep = OutboxMessage.objects.get(subscription__isnull=True)
    assert (to_pep.status, to_pep.attempts, to_pep.lease_expires_at) == (Status.PENDING, 0, None)


def test_a_claim_of_only_forwarded_rows_never_asks_pep_for_a_token(outbox_pep, outbox_client):
    subscribe()
    outbox_pep.post(HOOK, status=200)
    forward(an_event())
    drain(outbox_client)
    assert not [call for call in outbox_pep.calls if call.request.url.endswith("/token")]


def test_an_opened_reconciliation_item_is_forwarded_with_the_field_name_only():
    issued = subscribe(event_types=["bridge.reconciliation_item_opened"])
    subscribe(name="other", event_types=["bridge.bonus_granted"])  # does not want it
    request = ReconciliationRequest.objects.create(
        source="reconciliation_api", outcome="accepted", cause="pep:missing", request_id="r-9"
    )
    with transaction.atomic():
        items = open_items(request, [("p-1", "email"), ("p-2", "birthDate")], cause="pep:x")
    rows = OutboxMessage.objects.filter(message_type=forwarding.MESSAGE_TYPE).order_by("pk")
    assert [row.subscription_id for row in rows] == [issued.subscription.pk] * 2
    bodies = [json.loads(row.body) for row in rows]
    assert {b["type"] for b in bodies} == {"bridge.reconciliation_item_opened"}
    assert [(b["data"]["playerId"], b["data"]["field"], b["data"]["itemId"]) for b in bodies] == [
        ("p-1", "email", items[0].pk),
        ("p-2", "birthDate", items[1].pk),
    ]
    assert bodies[0]["data"]["requestId"] == "r-9"
    assert [row.player_id for row in rows] == ["p-1", "p-2"]  # ordered with each player's lane


def test_after_a_rotation_both_secrets_verify_until_the_overlap_ends(
    outbox_pep, outbox_client, settings
):
    settings.WEBHOOK_SECRET_OVERLAP_HOURS = 24
    old = subscribe()
    new = subscription_rotate_secret(subscription_id=old.subscription.pk)
    outbox_pep.post(HOOK, status=204)
    forward(an_event(1))
    drain(outbox_client)
    (call,) = hook_calls(outbox_pep)
    assert len(call.request.headers["webhook-signature"].split(" ")) == 2
    assert verify(old, call)["data"] == {"n": 1}  # a receiver not switched yet
    assert verify(new, call)["data"] == {"n": 1}  # and one that has

    WebhookSubscription.objects.update(previous_secret_until=timezone.now() - timedelta(seconds=1))
    forward(an_event(2))
    drain(outbox_client)
    last = hook_calls(outbox_pep)[-1]
    assert verify(new, last)["data"] == {"n": 2}
    with pytest.raises(WebhookVerificationError):
        verify(old, last)


def test_without_an_overlap_a_rotation_retires_the_old_secret_at_once(settings):
    settings.WEBHOOK_SECRET_OVERLAP_HOURS = 0
    old = subscribe()
    new = subscription_rotate_secret(subscription_id=old.subscription.pk)
    subscription = WebhookSubscription.objects.get()
    assert subscription.signing_secrets(timezone.now()) == [new.secret]
    assert subscription.previous_secret == ""


def test_a_second_rotation_keeps_only_the_secret_it_replaced(settings):
    settings.WEBHOOK_SECRET_OVERLAP_HOURS = 24
    first = subscribe()
    second = subscription_rotate_secret(subscription_id=first.subscription.pk)
    third = subscription_rotate_secret(subscription_id=first.subscription.pk)
    signing = WebhookSubscription.objects.get().signing_secrets(timezone.now())
    assert signing == [third.secret, second.secret]
    assert first.secret not in signing


def test_a_subscriptions_own_rate_limit_holds_back_its_rows_only():
    limited = subscription_create(name="slow", url=HOOK, event_types=[], rate_limit=(100, 60))
    free = subscription_create(name="fast", url="https://dwh.test/hook", event_types=[])
    forward(*[an_event(n, player=f"p-{n}") for n in range(30)])
    claimed = claim_lanes(worker="w1", limit=100, now=timezone.now())
    by_target = Counter(row.subscription_id for row in claimed.rows)
    # A tenth of the limit as the bucket's burst: 10 now, the rest as the bucket refills.
    assert by_target[limited.subscription.pk] == 10
    assert by_target[free.subscription.pk] == 30
    assert endpoints.rate_limits()[f"webhook:{limited.subscription.pk}"] == (100, 60.0)
