"""Operator webhook subscriptions: create, rotate the secret, enable or disable (docs/webhooks.md).

Each returns the secret only where staff must copy it (creation, rotation); the caller shows it
once and records the staff action in the same transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from events.models import WebhookSubscription
from pepbridge.pep.webhook_sender import secret_new, url_problem

EVENT_TYPE = re.compile(r"^[A-Za-z0-9_.:-]{1,140}(\.\*)?$|^\*$")
MAX_EVENT_TYPES = 100


@dataclass(frozen=True)
class Issued:
    """A subscription and its new secret: the secret lives in this object only."""

    subscription: WebhookSubscription
    secret: str


def url_validate(url: str) -> str:
    """The URL, stripped, or ValidationError naming what is wrong with it."""
    url = url.strip()
    problem = url_problem(url, debug=settings.DEBUG)
    if problem:
        raise ValidationError(f"The URL {problem}.")
    return url


def event_types_parse(text: str) -> list[str]:
    """Event types from staff's text (comma or line separated); [] means every event."""
    names = [name.strip() for name in re.split(r"[,\s]+", text) if name.strip()]
    if len(names) > MAX_EVENT_TYPES:
        raise ValidationError(f"At most {MAX_EVENT_TYPES} event types.")
    bad = [name for name in names if not EVENT_TYPE.match(name)]
    if bad:
        raise ValidationError(f"Not an event type: {bad[0][:50]!r}.")
    return [] if "*" in names else sorted(set(names))


@transaction.atomic
def subscription_create(
    *,
    name: str,
    url: str,
    event_types: list[str],
    enabled: bool = True,
    rate_limit: tuple[int | None, int] = (None, 1),
) -> Issued:
    """Create a subscription with a fresh whsec_ secret; the secret is returned this once.

    `rate_limit`: (requests, per seconds), requests None for no limit.
    """
    subscription = WebhookSubscription(
        name=name.strip(),
        url=url_validate(url),
        event_types=event_types,
        enabled=enabled,
        secret=secret_new(),
        rate_limit_count=rate_limit[0],
        rate_limit_seconds=rate_limit[1],
    )
    subscription.full_clean()
    subscription.save()
    return Issued(subscription, subscription.secret)


@transaction.atomic
def subscription_rotate_secret(*, subscription_id: int) -> Issued:
    """Replace the secret; rows not yet delivered are signed with the new one when sent.

    For WEBHOOK_SECRET_OVERLAP_HOURS they are signed with the old one too (two signatures in
    `webhook-signature`), so a receiver still holding the old secret verifies meanwhile. A
    rotation during an overlap ends that overlap: only the secret just replaced stays valid.
    """
    subscription = WebhookSubscription.objects.select_for_update().get(pk=subscription_id)
    now = timezone.now()
    overlap = timedelta(hours=settings.WEBHOOK_SECRET_OVERLAP_HOURS)
    subscription.previous_secret = subscription.secret if overlap else ""
    subscription.previous_secret_until = now + overlap if overlap else None
    subscription.secret = secret_new()
    subscription.secret_rotated_at = now
    subscription.save(update_fields=["secret", "secret_rotated_at", "previous_secret",
                                     "previous_secret_until", "updated_at"])  # fmt: skip
    return Issued(subscription, subscription.secret)


def subscription_set_enabled(*, subscription_ids: list[int], enabled: bool) -> int:
    """Enable or disable subscriptions; returns how many changed.

    A disabled subscription gets no new rows, and its queued rows are dead-lettered when their
    turn comes (replay them after enabling it again).
    """
    rows = WebhookSubscription.objects.filter(pk__in=subscription_ids).exclude(enabled=enabled)
    return rows.update(enabled=enabled, updated_at=timezone.now())
