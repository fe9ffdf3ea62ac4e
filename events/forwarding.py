"""Forward events to the operator's webhook subscriptions, as outbox rows (docs/webhooks.md).

The outbox is the one delivery engine: a forwarded event is one row per matching enabled
subscription, written in the caller's transaction like any message to PEP, with the
subscription as the row's target. Claim, order per player (the lane key includes the target),
retries, dead letter, replay and the deliveries admin apply unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from events import outbox
from events.models import OutboxMessage, WebhookSubscription

MESSAGE_TYPE = "operator_webhook"
TYPE_MAX = 140  # "pep." + PEP's event name (128 at most in the inbox)


@dataclass(frozen=True)
class Event:
    """One event to forward: its type, a key unique to it, and what the receiver gets."""

    type: str  # "pep.level_up", "bridge.bonus_granted"
    key: str  # unique per event (with the subscription, the outbox row's dedup_key)
    data: dict[str, Any]  # JSON-able (Decimal and aware datetimes are fine)
    occurred_at: datetime
    player_id: str | None = None  # orders a player's events per subscription


def enabled_subscriptions() -> list[WebhookSubscription]:
    """The subscriptions events go to now (a small table, read once per forwarding call)."""
    return list(WebhookSubscription.objects.filter(enabled=True).order_by("pk"))


def forward(
    events: Sequence[Event], *, subscriptions: list[WebhookSubscription] | None = None
) -> int:
    """Enqueue each event for every enabled subscription that wants it; return rows written.

    Runs in the caller's transaction (outbox.enqueue_many requires one), so the rows commit or
    roll back with the change they report. Forwarding the same event again writes nothing: the
    row's dedup_key is the subscription and the event's key. The body is the Standard Webhooks
    envelope {"type", "timestamp", "data"}; it is signed when sent, not here.
    """
    if not events:
        return 0
    targets = enabled_subscriptions() if subscriptions is None else subscriptions
    messages = [
        _message(event, target)
        for event in events
        for target in targets
        if target.wants(event.type)
    ]
    if not messages:
        return 0
    outcomes = outbox.enqueue_many(messages)
    return sum(isinstance(outcome, OutboxMessage) for outcome in outcomes)


def _message(event: Event, target: WebhookSubscription) -> outbox.PepMessage:
    body = {"type": event.type[:TYPE_MAX], "timestamp": event.occurred_at, "data": event.data}
    return outbox.PepMessage(
        message_type=MESSAGE_TYPE,
        method="POST",
        path="/",  # the subscription's URL as it is when sent
        body=body,
        player_id=event.player_id or None,
        dedup_key=f"fwd:{target.pk}:{event.key}"[:255],
        occurred_at=event.occurred_at,
        subscription_id=target.pk,
    )
