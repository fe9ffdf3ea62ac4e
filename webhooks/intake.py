"""Receive one PEP webhook request: check it and store it, in one insert.

Nothing else happens here: the worker is told after commit (and a sweep finds what that
missed), splits the body into inbox events and processes them, so PEP gets its 202 as fast as
one insert allows (docs/webhooks.md §4).
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Field
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
    delivery_id: int
    event_count: int


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
        delivery_id = _insert(
            {
                "received_at": timezone.now(),
                "remote_addr": address if security.is_ip(address) else None,
                "timestamp_header": verified.timestamp[:64],
                "signed_at": verified.signed_at,
                "replay_key": replay,
                "key_slot": verified.key_slot,
                "signed_form": verified.signed_form,
                "body": raw.decode(),
                "event_count": len(events),
                "new_event_count": 0,  # counted by the splitter; split_at stays null
            }
        )
    except IntegrityError:
        if WebhookDelivery.objects.filter(replay_key=replay).exists():
            raise WebhookRefused(
                409, "replayed", "This signed request was received before."
            ) from None
        raise
    transaction.on_commit(kick)
    return Received(delivery_id, len(events))


def _insert(values: dict[str, Any]) -> int:
    """INSERT … RETURNING id, the delivery's primary key.

    PEP's bursts make this the hottest write of the bridge, so it skips what the ORM's
    `create` adds around the same statement (a model instance, save signals, the compiler):
    0.45 ms of CPU in a request of 2.5 (docs/benchmarks.md). Values still go through each
    field's own conversion. A single statement is its own transaction in autocommit, so no
    BEGIN and COMMIT round trips either; inside a caller's transaction (ATOMIC_REQUESTS, a
    test) a savepoint keeps a refused replay from breaking that transaction.
    """
    connection = transaction.get_connection()
    fields = _fields()
    params = [fields[name].get_db_prep_save(value, connection) for name, value in values.items()]
    sql = _insert_sql(connection.vendor, tuple(values))
    with (
        transaction.atomic() if connection.in_atomic_block else nullcontext(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, params)
        return int(cursor.fetchone()[0])


@functools.cache
def _fields() -> dict[str, Field]:
    return {field.name: field for field in WebhookDelivery._meta.concrete_fields}


@functools.cache
def _insert_sql(vendor: str, names: tuple[str, ...]) -> str:
    """The statement for these fields, quoted for this database (names from the model only)."""
    quote = transaction.get_connection().ops.quote_name
    columns = ", ".join(quote(_fields()[name].column) for name in names)
    placeholders = ", ".join(["%s"] * len(names))
    table = quote(WebhookDelivery._meta.db_table)
    returning = quote(_fields()["id"].column)
    # Only the model's own names are interpolated; every value is a parameter.
    return f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) RETURNING {returning}"  # noqa: S608


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
