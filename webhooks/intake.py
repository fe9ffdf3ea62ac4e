"""Receive one PEP webhook request: check it and store it, in one insert.

Nothing else happens here: the worker is told after commit (and a sweep finds what that
missed), splits the body into inbox events and processes them, so PEP gets its 202 as fast as
one insert allows (docs/webhooks.md §4).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_q.tasks import async_task

from webhooks import security
from webhooks.metrics import WEBHOOK_REQUESTS
from webhooks.models import WebhookDelivery
from webhooks.security import WebhookRefused

logger = logging.getLogger(__name__)

KICK_KEY = "webhooks:process:kick"


@dataclass(frozen=True)
class Received:
    delivery: WebhookDelivery


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
    return received


def _store(
    address: str, raw: bytes, verified: security.Verified, events: list[dict[str, Any]]
) -> Received:
    """The request alone, in one insert; a replayed request is a 409.

    Its events go into the inbox in the worker (webhooks/splitting.py), told once the insert
    has committed: from then on the body that holds them is stored, so nothing is lost.
    """
    replay = hashlib.sha256(f"{verified.timestamp}.{verified.signature}".encode()).hexdigest()
    try:
        delivery = _insert(
            remote_addr=address if security.is_ip(address) else None,
            timestamp_header=verified.timestamp[:64],
            signed_at=verified.signed_at,
            replay_key=replay,
            key_slot=verified.key_slot,
            signed_form=verified.signed_form,
            body=raw.decode(),
            event_count=len(events),
        )
    except IntegrityError:
        if WebhookDelivery.objects.filter(replay_key=replay).exists():
            raise WebhookRefused(
                409, "replayed", "This signed request was received before."
            ) from None
        raise
    transaction.on_commit(kick)
    return Received(delivery)


def _insert(**fields: Any) -> WebhookDelivery:
    """One INSERT is its own transaction in autocommit: no BEGIN and COMMIT round trips (a
    tenth of the request's time). Inside a caller's transaction (ATOMIC_REQUESTS, a test) a
    savepoint keeps a refused replay from breaking that transaction."""
    if transaction.get_connection().in_atomic_block:
        with transaction.atomic():
            return WebhookDelivery.objects.create(**fields)
    return WebhookDelivery.objects.create(**fields)


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
