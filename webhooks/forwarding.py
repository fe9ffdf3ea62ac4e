"""PEP's stored inbox events, forwarded to the operator's subscriptions (events.forwarding)."""

from __future__ import annotations

from events import forwarding
from webhooks.models import InboxEvent, WebhookDelivery


def inbox_forward(delivery: WebhookDelivery) -> int:
    """Forward the events `delivery` stored (not its repeats of known ones); rows written.

    Called in the intake's (or the poller's) transaction, right after the events are inserted:
    an event is forwarded exactly when it is stored, once. Without an enabled subscription it
    costs one query on a small table.
    """
    targets = forwarding.enabled_subscriptions()
    if not targets:
        return 0
    stored = InboxEvent.objects.filter(delivery=delivery).order_by("pk")
    return forwarding.forward([_event(event) for event in stored], subscriptions=targets)


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
