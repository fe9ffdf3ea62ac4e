"""Split stored webhook deliveries into inbox events: once per event, in the worker.

The request only stores PEP's body (webhooks/intake.py), so PEP's 202 costs one insert; this is
the other half of "store the request and its events", done after commit by the processing pass.
The body was checked (signature, JSON, shape) before it was stored, so it parses here as it did
there. Each batch is one transaction with its deliveries locked (SKIP LOCKED on PostgreSQL;
SQLite's write lock serialises passes), so two workers never split the same delivery, and a
worker killed mid-batch leaves it unsplit for the next pass: nothing is lost or stored twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.db import OperationalError, transaction
from django.db.models import F
from django.utils import timezone

from pepbridge.api.parsers import parse_json
from webhooks import decoding
from webhooks.forwarding import inbox_forward
from webhooks.intake import check_shape
from webhooks.metrics import WEBHOOK_EVENTS
from webhooks.models import InboxEvent, WebhookDelivery

logger = logging.getLogger(__name__)

BATCH = 50


def dedup_key(event: Mapping[str, Any]) -> str:
    """sha256 of eventName, eventDate and the canonical payload: PEP sends no event id."""
    canonical = json.dumps(
        event.get("payload"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    text = "\n".join((str(event.get("eventName")), str(event.get("eventDate", "")), canonical))
    return hashlib.sha256(text.encode()).hexdigest()


def deliveries_split(*, older_than: timedelta | None = None, batch: int = BATCH) -> int:
    """Split the oldest unsplit deliveries (at most `batch`) into events; how many were split.

    The batch is split together (one read of known keys, one insert, a few updates), since a
    statement per delivery held one worker to ~800 events/s. `older_than` is the sweep's
    filter: deliveries whose kick may have been lost.
    """
    try:
        with transaction.atomic():
            waiting = WebhookDelivery.objects.filter(split_at__isnull=True)
            if older_than is not None:
                waiting = waiting.filter(received_at__lt=timezone.now() - older_than)
            deliveries = list(waiting.select_for_update(skip_locked=True).order_by("pk")[:batch])
            parsed = [(d, events) for d in deliveries if (events := _events_of(d)) is not None]
            if parsed:
                _batch_split(parsed)
            return len(parsed)
    except OperationalError as exc:
        # Two workers inserting the same new keys in opposite orders can deadlock (PEP sending
        # one event in two requests at once), or SQLite is busy: the batch rolled back whole
        # and the next pass splits it.
        logger.warning("webhook_split_retry_later error=%s", type(exc).__name__)
        return 0


def _events_of(delivery: WebhookDelivery) -> list[dict[str, Any]] | None:
    """The delivery's events; None (logged, left unsplit with its body) if it does not parse,
    which should not happen: it parsed at intake. It is tried again by the next pass and holds
    up no other delivery."""
    try:
        return check_shape(parse_json(delivery.body))
    except Exception:
        logger.exception("webhook_split_failed delivery_id=%s", delivery.pk)
        return None


def _batch_split(parsed: list[tuple[WebhookDelivery, list[dict[str, Any]]]]) -> None:
    """Store each event not seen before once, count the copies of the others, mark the
    deliveries split and forward what is new.

    A key already stored by the same delivery (by its request, before deliveries were split in
    the worker) is neither new nor a copy: a delivery stored during a rolling deploy is split
    once, whichever code stored it.
    """
    keyed = [(delivery, {dedup_key(event): event for event in events}, events)
             for delivery, events in parsed]  # fmt: skip
    every_key = {key for _, by_key, _ in keyed for key in by_key}
    stored = dict(
        InboxEvent.objects.filter(dedup_key__in=every_key).values_list("dedup_key", "delivery_id")
    )
    fresh: dict[str, InboxEvent] = {}  # each new key's row, from its first delivery
    copies: Counter[str] = Counter()  # copies of keys stored before this batch
    new_count: dict[int, int] = {}
    for delivery, by_key, events in keyed:
        sent = Counter(dedup_key(event) for event in events) if len(by_key) < len(events) else None
        new = 0
        for key, event in by_key.items():
            count = sent[key] if sent else 1  # a copy within one request is stored once
            if key in fresh:
                fresh[key].duplicate_count += count
            elif key in stored and stored[key] != delivery.pk:
                copies[key] += count
            else:
                new += 1
                if key not in stored:
                    fresh[key] = event_row(delivery, key, event, count - 1)
        new_count[delivery.pk] = new
    # Another worker may insert the same key (from another delivery) between the read and
    # here: the constraint keeps one, and ignore_conflicts keeps this transaction going.
    InboxEvent.objects.bulk_create(fresh.values(), ignore_conflicts=True)
    _copies_add(copies)
    _mark_split(new_count)
    inbox_forward([delivery for delivery, _ in parsed])
    total = sum(len(events) for _, events in parsed)
    WEBHOOK_EVENTS.labels(outcome="stored").inc(len(fresh))
    WEBHOOK_EVENTS.labels(outcome="duplicate").inc(total - len(fresh))


def event_row(
    delivery: WebhookDelivery, key: str, event: Mapping[str, Any], extra: int = 0
) -> InboxEvent:
    """The inbox row of one event (unsaved); `extra` copies came with it. Also the poller's."""
    return InboxEvent(
        delivery=delivery,
        dedup_key=key,
        event_name=event["eventName"],
        event_date=decoding.parse_instant(event.get("eventDate")),
        player_ref=decoding.player_ref(event.get("payload")),
        raw=event,
        received_at=delivery.received_at,
        duplicate_count=extra,
    )


def _copies_add(copies: Counter[str]) -> None:
    """Add each key's copies to the event stored before: one UPDATE per distinct count."""
    by_count: dict[int, list[str]] = {}
    for key, count in copies.items():
        by_count.setdefault(count, []).append(key)
    for count, keys in by_count.items():
        InboxEvent.objects.filter(dedup_key__in=keys).update(
            duplicate_count=F("duplicate_count") + count
        )


def _mark_split(new_count: dict[int, int]) -> None:
    """split_at now, and how many of its events were new: one UPDATE per distinct count."""
    now = timezone.now()
    by_count: dict[int, list[int]] = {}
    for pk, count in new_count.items():
        by_count.setdefault(count, []).append(pk)
    for count, pks in by_count.items():
        WebhookDelivery.objects.filter(pk__in=pks).update(split_at=now, new_event_count=count)
