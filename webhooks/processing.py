"""Process stored events: each in its own transaction, once, by the handler of its family.

A pass first splits the deliveries the intake stored into events (webhooks/splitting.py).

The event row is locked and re-read inside the transaction, so two workers (the kicked pass
and the sweep) cannot both process it; a handler that raises rolls back its own writes and
marks the event failed, without stopping the others.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import OperationalError, transaction
from django.db.models import F
from django.utils import timezone

from webhooks import handlers, splitting
from webhooks.intake import KICK_KEY
from webhooks.metrics import WEBHOOK_EVENTS
from webhooks.models import InboxEvent

logger = logging.getLogger(__name__)

Status = InboxEvent.Status
BATCH = 200


def inbox_event_process(*, event_id: int) -> str:
    """Process one event if still pending; returns its status afterwards."""
    try:
        with transaction.atomic():
            event = InboxEvent.objects.select_for_update().get(pk=event_id)
            if event.status != Status.PENDING:
                return event.status
            handled = handlers.dispatch(event)
            event.status = Status.PROCESSED if handled else Status.STORED
            event.processed_at, event.attempts = timezone.now(), event.attempts + 1
            event.save(update_fields=["status", "processed_at", "attempts"])
    except OperationalError:
        logger.warning("webhook_event_retry_later event_id=%s", event_id, exc_info=True)
        return Status.PENDING
    except Exception as exc:
        logger.exception("webhook_event_failed event_id=%s", event_id)
        InboxEvent.objects.filter(pk=event_id, status=Status.PENDING).update(
            status=Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            attempts=F("attempts") + 1,
            processed_at=timezone.now(),
        )
        WEBHOOK_EVENTS.labels(outcome="failed").inc()
        return Status.FAILED
    WEBHOOK_EVENTS.labels(outcome="processed" if handled else "stored_only").inc()
    return event.status


def _pending(older_than: timedelta | None = None) -> list[int]:
    """Pending events in the order PEP dated them (arrival order between equal dates)."""
    pending = InboxEvent.objects.filter(status=Status.PENDING)
    if older_than is not None:
        pending = pending.filter(received_at__lt=timezone.now() - older_than)
    ordered = pending.order_by("event_date", "pk").values_list("pk", flat=True)
    return list(ordered[:BATCH])


def inbox_process_pending(*, max_seconds: float = 50.0) -> int:
    """Process pending events, oldest first, until none is left or time is up.

    An event left pending (the database was locked) is not tried again in this pass, so a
    pass never spins on it; the next pass or the sweep takes it.
    """
    cache.delete(KICK_KEY)  # a delivery committed from now on queues the next pass
    deadline = time.monotonic() + max_seconds
    tried: set[int] = set()
    while time.monotonic() < deadline:
        split = splitting.deliveries_split()
        ids = [event_id for event_id in _pending() if event_id not in tried]
        if not ids and not split:
            break
        for event_id in ids:
            inbox_event_process(event_id=event_id)
            tried.add(event_id)
    return len(tried)


def inbox_sweep() -> int:
    """Periodic: split and process what a lost kick left (crash, broker outage)."""
    older_than = timedelta(seconds=settings.PEP_WEBHOOK_SWEEP_AFTER)
    splitting.deliveries_split(older_than=older_than)
    ids = _pending(older_than)
    for event_id in ids:
        inbox_event_process(event_id=event_id)
    return len(ids)


def inbox_events_retry(*, event_ids: list[int]) -> int:
    """Put failed events back to pending (staff, once the cause is fixed)."""
    return InboxEvent.objects.filter(pk__in=event_ids, status=Status.FAILED).update(
        status=Status.PENDING, error="", processed_at=None
    )
