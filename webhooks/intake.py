"""Receive one PEP webhook request: check it, store it and its events in one transaction.

Nothing is processed here: the worker is told after commit (and a sweep finds what that
missed), so PEP gets its 202 as fast as two inserts allow.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django_q.tasks import async_task

from webhooks import decoding, security
from webhooks.forwarding import inbox_forward
from webhooks.metrics import WEBHOOK_EVENTS, WEBHOOK_REQUESTS
from webhooks.models import InboxEvent, WebhookDelivery
from webhooks.security import WebhookRefused

logger = logging.getLogger(__name__)

KICK_KEY = "webhooks:process:kick"


@dataclass(frozen=True)
class Received:
    delivery: WebhookDelivery
    new_events: int
    duplicates: int


def dedup_key(event: Mapping[str, Any]) -> str:
    """sha256 of eventName, eventDate and the canonical payload: PEP sends no event id."""
    canonical = json.dumps(
        event.get("payload"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    text = "\n".join((str(event.get("eventName")), str(event.get("eventDate", "")), canonical))
    return hashlib.sha256(text.encode()).hexdigest()


def _event_problem(event: Any) -> str:
    if not isinstance(event, dict):
        return "is not an object"
    name = event.get("eventName")
    if not isinstance(name, str) or not 0 < len(name) <= 128:
        return "has no eventName (a string of 1 to 128 characters)"
    if not isinstance(event.get("payload", []), list):
        return "has a payload that is not a list"
    if not isinstance(event.get("eventDate", ""), str):
        return "has an eventDate that is not a string"
    return ""


def check_shape(body: Any) -> list[dict[str, Any]]:
    """The events of a body `{"events": [...]}`, or a 400 naming the first problem."""
    events = body.get("events") if isinstance(body, dict) else None
    if not isinstance(events, list) or not events:
        raise WebhookRefused(400, "malformed", 'The body must be {"events": [...]}, not empty.')
    limit = settings.PEP_WEBHOOK_MAX_EVENTS
    if len(events) > limit:
        raise WebhookRefused(400, "malformed", f"At most {limit} events per request.")
    for index, event in enumerate(events):
        problem = _event_problem(event)
        if problem:
            raise WebhookRefused(400, "malformed", f"events[{index}] {problem}.")
    return events


def delivery_receive(*, meta: Mapping[str, Any], read_body: Any) -> Received:
    """Check a request (allow-list, size, timestamp, signature, shape) and store it.

    `read_body` is called only once the allow-list and Content-Length passed. A refusal is
    logged without the body and counted, then raised as WebhookRefused.
    """
    address = security.client_ip(meta)
    try:
        security.check_ip(address)
        security.check_length(meta)
        raw = bytes(read_body())
        if len(raw) > settings.PEP_WEBHOOK_MAX_BODY_BYTES:
            raise WebhookRefused(413, "too_large", "The body is over the limit.")
        verified = security.verify(meta, raw, timezone.now())
        events = check_shape(verified.body)
        received = _store(address, raw, verified, events)
    except WebhookRefused as exc:
        WEBHOOK_REQUESTS.labels(outcome=exc.reason).inc()
        logger.warning(
            "webhook_refused status=%s reason=%s remote=%s", exc.status, exc.reason, address
        )
        raise
    WEBHOOK_REQUESTS.labels(outcome="accepted").inc()
    WEBHOOK_EVENTS.labels(outcome="stored").inc(received.new_events)
    WEBHOOK_EVENTS.labels(outcome="duplicate").inc(received.duplicates)
    return received


def _store(
    address: str, raw: bytes, verified: security.Verified, events: list[dict[str, Any]]
) -> Received:
    """The delivery and its new events in one transaction; a replayed request is a 409."""
    replay = hashlib.sha256(f"{verified.timestamp}.{verified.signature}".encode()).hexdigest()
    keys = [dedup_key(event) for event in events]
    keyed = dict(zip(keys, events, strict=True))  # a copy within one request is stored once
    sent = Counter(keys)
    try:
        with transaction.atomic():
            known = set(
                InboxEvent.objects.filter(dedup_key__in=list(keyed)).values_list(
                    "dedup_key", flat=True
                )
            )
            delivery = WebhookDelivery.objects.create(
                remote_addr=address if security.is_ip(address) else None,
                timestamp_header=verified.timestamp[:64],
                signed_at=verified.signed_at,
                replay_key=replay,
                key_slot=verified.key_slot,
                signed_form=verified.signed_form,
                body=raw.decode(),
                event_count=len(events),
                new_event_count=len(keyed) - len(known),
            )
            _events_insert(delivery, keyed, known, sent)
            inbox_forward(delivery)
            transaction.on_commit(kick)
    except IntegrityError:
        if WebhookDelivery.objects.filter(replay_key=replay).exists():
            raise WebhookRefused(
                409, "replayed", "This signed request was received before."
            ) from None
        raise
    return Received(delivery, delivery.new_event_count, len(events) - delivery.new_event_count)


def _events_insert(
    delivery: WebhookDelivery,
    keyed: dict[str, dict[str, Any]],
    known: set[str],
    sent: Counter[str],
) -> None:
    """Insert the events not stored yet; count each copy (`sent` times) on the stored one."""
    rows = [
        InboxEvent(
            delivery=delivery,
            dedup_key=key,
            event_name=event["eventName"],
            event_date=decoding.parse_instant(event.get("eventDate")),
            player_ref=decoding.player_ref(event.get("payload")),
            raw=event,
            duplicate_count=sent[key] - 1,
        )
        for key, event in keyed.items()
        if key not in known
    ]
    # A concurrent copy may insert the same key between the read and here: the constraint
    # keeps one, and ignore_conflicts keeps this transaction going.
    InboxEvent.objects.bulk_create(rows, ignore_conflicts=True)
    by_copies: dict[int, list[str]] = {}
    for key in known:
        by_copies.setdefault(sent[key], []).append(key)
    for copies, same in by_copies.items():
        InboxEvent.objects.filter(dedup_key__in=same).update(
            duplicate_count=F("duplicate_count") + copies
        )


def kick() -> None:
    """Queue one processing pass unless one was queued moments ago; a lost kick only costs
    latency (the sweep processes what is left). A broker outage must not fail PEP's request."""
    debounce = settings.PEP_WEBHOOK_KICK_DEBOUNCE
    if debounce and not cache.add(KICK_KEY, 1, timeout=debounce):
        return
    try:
        async_task("webhooks.tasks.inbox_process_task", group="webhooks")
    except Exception:
        logger.warning("webhook_kick_failed; the sweep will process", exc_info=True)
