"""The intake: signature, timestamp, storage once, 202, processing after commit."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any
from unittest import mock

from django.test import Client
from django.utils import timezone

from tests.webhooks.conftest import KEY, OLD_KEY, URL, level_up, signed_headers, split_all
from webhooks import tasks
from webhooks.models import InboxEvent, WebhookDelivery
from webhooks.security import sign


def test_it_stores_a_signed_request_and_answers_202(post_events: Any) -> None:
    response = post_events([level_up(), level_up("p-2")])

    assert response.status_code == 202
    assert response.json() == {"received": 2}
    delivery = WebhookDelivery.objects.get()
    assert delivery.key_slot == 1 and delivery.signed_form == "raw"
    assert (delivery.remote_addr, delivery.event_count, delivery.new_event_count) == (
        "127.0.0.1",
        2,
        0,
    )
    assert json.loads(delivery.body)["events"][1] == level_up("p-2")  # as received
    assert abs(delivery.received_at - timezone.now()) < timedelta(seconds=5)
    assert delivery.split_at is None and not InboxEvent.objects.exists()  # one insert only

    assert split_all() == 1
    assert sorted(InboxEvent.objects.values_list("player_ref", flat=True)) == ["p-1", "p-2"]
    delivery.refresh_from_db()
    assert delivery.split_at is not None and delivery.new_event_count == 2
    assert set(InboxEvent.objects.values_list("received_at", flat=True)) == {delivery.received_at}
    assert split_all() == 0  # split once


def test_a_delivery_that_cannot_be_split_stays_for_the_next_pass_and_blocks_nothing(
    post_events: Any, caplog: Any
) -> None:
    post_events([level_up("p-1")])
    post_events([level_up("p-2")])
    first = WebhookDelivery.objects.order_by("pk").first()
    assert first is not None
    WebhookDelivery.objects.filter(pk=first.pk).update(body="{not json")  # as if corrupted

    assert split_all() == 1
    assert list(InboxEvent.objects.values_list("player_ref", flat=True)) == ["p-2"]
    first.refresh_from_db()
    assert first.split_at is None and first.body == "{not json"  # kept, not dropped
    assert "webhook_split_failed" in caplog.text


def test_a_delivery_whose_events_its_request_stored_is_not_counted_twice(
    post_events: Any,
) -> None:
    """A rolling deploy: the old code stored the events in the request, left split_at empty."""
    post_events([level_up("p-1")])
    split_all()
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.update(split_at=None)

    assert split_all() == 1
    stored = InboxEvent.objects.get()
    assert stored.duplicate_count == 0 and stored.delivery_id == delivery.pk
    delivery.refresh_from_db()
    assert delivery.new_event_count == 1


def test_it_queues_processing_only_after_commit(
    post_events: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with (
        mock.patch("webhooks.intake.async_task") as task,
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        post_events([level_up()])
    assert len(callbacks) == 1
    task.assert_called_once_with("webhooks.tasks.inbox_process_task", group="webhooks")


def test_a_repeated_event_in_a_new_request_is_stored_once(db: None) -> None:
    client = Client()
    for stamp in (str(int(time.time())), str(int(time.time() * 1000))):
        body = json.dumps({"events": [level_up()]}).encode()
        response = client.post(
            URL, data=body, content_type="application/json", **signed_headers(body, timestamp=stamp)
        )
        assert response.status_code == 202
    split_all()
    assert InboxEvent.objects.count() == 1
    assert InboxEvent.objects.get().duplicate_count == 1
    assert WebhookDelivery.objects.count() == 2


def test_it_accepts_the_compact_reserialisation_when_the_bytes_differ(db: None) -> None:
    events = {"events": [level_up()]}
    sent = json.dumps(events, indent=2).encode()
    stamp = str(int(time.time()))
    signature = sign(KEY, stamp, json.dumps(events, separators=(",", ":")).encode())
    response = Client().post(
        URL,
        data=sent,
        content_type="application/json",
        HTTP_X_GMZ_PEP_WEBHOOK_TIMESTAMP=stamp,
        HTTP_X_GMZ_PEP_WEBHOOK_SIGNATURE=signature,
    )
    assert response.status_code == 202
    assert WebhookDelivery.objects.get().signed_form == "compact"


def test_it_accepts_either_key_during_a_rotation(db: None, settings: Any) -> None:
    settings.PEP_WEBHOOK_SECRETS = [KEY, OLD_KEY]
    body = json.dumps({"events": [level_up()]}).encode()
    response = Client().post(
        URL, data=body, content_type="application/json", **signed_headers(body, key=OLD_KEY)
    )
    assert response.status_code == 202
    assert WebhookDelivery.objects.get().key_slot == 2


def test_it_accepts_an_iso_timestamp(db: None) -> None:
    body = json.dumps({"events": [level_up()]}).encode()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    response = Client().post(
        URL, data=body, content_type="application/json", **signed_headers(body, timestamp=stamp)
    )
    assert response.status_code == 202


def test_it_needs_no_credential_and_is_not_throttled(post_events: Any) -> None:
    statuses = {post_events([level_up(level=n)]).status_code for n in range(30)}
    assert statuses == {202}


def test_a_broker_outage_still_answers_202_and_the_sweep_processes_later(
    post_events: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with (
        mock.patch("webhooks.intake.async_task", side_effect=ConnectionError("down")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert post_events([level_up()]).status_code == 202
    assert tasks.inbox_sweep_task() == 0  # too recent: its task may still come
    assert not InboxEvent.objects.exists()

    WebhookDelivery.objects.update(received_at=timezone.now() - timedelta(minutes=5))
    assert tasks.inbox_sweep_task() == 1  # split, then processed
    stored = InboxEvent.objects.get()
    assert stored.status == InboxEvent.Status.PROCESSED


def test_a_burst_of_requests_queues_one_processing_pass(
    post_events: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with (
        mock.patch("webhooks.intake.async_task") as task,
        django_capture_on_commit_callbacks(execute=True),
    ):
        for level in range(5):
            post_events([level_up(level=level)])
    assert task.call_count == 1


def test_a_signature_with_a_sha256_prefix_or_in_capitals_is_accepted(db: None) -> None:
    body = json.dumps({"events": [level_up()]}).encode()
    headers = signed_headers(body)
    signature = headers["HTTP_X_GMZ_PEP_WEBHOOK_SIGNATURE"]
    headers["HTTP_X_GMZ_PEP_WEBHOOK_SIGNATURE"] = "sha256=" + signature.upper()
    answer = Client().post(URL, data=body, content_type="application/json", **headers)
    assert answer.status_code == 202
