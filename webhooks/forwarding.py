"""PEP's stored inbox events, forwarded to the operator's subscriptions (events.forwarding)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from django.db import transaction

from events import forwarding
from events.models import WebhookSubscription
from webhooks.models import InboxEvent, WebhookDelivery

BACKFILL_CHUNK = 500


def inbox_forward(deliveries: list[WebhookDelivery]) -> int:
    """Forward the events `deliveries` stored (not their repeats of known ones); rows written.

    Called in the splitter's (or the poller's) transaction, right after the events are inserted:
    an event is forwarded exactly when it is stored, once. Without an enabled subscription it
    costs one query on a small table.
    """
    targets = forwarding.enabled_subscriptions()
    if not targets:
        return 0
    stored = InboxEvent.objects.filter(delivery__in=deliveries).order_by("pk")
    return forwarding.forward([_event(event) for event in stored], subscriptions=targets)


def inbox_backfill(
    subscription: WebhookSubscription, *, since: datetime, chunk: int = BACKFILL_CHUNK
) -> Iterator[tuple[int, int]]:
    """Forward to one subscription the stored PEP events received since `since`, oldest first.

    A subscription receives events from its creation on; this sends it the history it asks
    for. Each chunk is its own transaction (a million stored events are never one), and
    yields (events read, rows written). Events it already has, from live forwarding or an
    earlier backfill, are not queued again: the row's dedup key is the subscription and the
    event. Only the types it subscribes to go, and only while it is enabled.
    """
    after = 0
    while True:
        with transaction.atomic():
            target = WebhookSubscription.objects.filter(pk=subscription.pk, enabled=True).first()
            if target is None:
                return
            events = list(
                InboxEvent.objects.filter(received_at__gte=since, pk__gt=after).order_by("pk")[
                    :chunk
                ]
            )
            if not events:
                return
            written = forwarding.forward(
                [_event(event) for event in events], subscriptions=[target]
            )
        after = events[-1].pk
        yield len(events), written


def _event(event: InboxEvent) -> forwarding.Event:
    raw = event.raw if isinstance(event.raw, dict) else {}
    return forwarding.Event(
        type=f"pep.{event.event_name}",
        key=f"pep:{event.dedup_key}",
        data={
            "inboxEventId": event.pk,
            "eventName": event.event_name,
            "eventDate": raw.get("eventDate"),
            "playerId": event.player_ref or None,
            "payload": raw.get("payload"),
        },
        occurred_at=event.event_date or event.received_at,
        player_id=event.player_ref or None,
    )
