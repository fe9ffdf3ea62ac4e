"""Claim due outbox rows for one worker, safely with many workers at once, under a lease."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction

from events import selectors
from events.models import OutboxMessage
from events.services import endpoints


def claim_due(*, worker: str, limit: int, now: datetime) -> list[OutboxMessage]:
    """Lease up to `limit` due head rows to `worker` and return them.

    Endpoints with an open circuit are skipped; a half-open one gets one probe row; a
    rate-limited one gets as many rows as it has permits. A row stays leased (status still
    pending) until OUTBOX_LEASE_SECONDS pass: if the worker dies, another claims it then.
    """
    gate = endpoints.gate(now)
    limited = set(settings.OUTBOX_RATE_LIMITS)
    rows = _claim(worker, now, limit, exclude=gate.blocked | gate.probes | limited)
    for message_type in sorted(gate.probes):
        # Leased with the same `now` as the half-open state's retry_at: that equality is how
        # endpoints.record tells the probe's result from a stale batch's.
        probe = _claim_limited(worker, now, 1, message_type)
        if not probe:
            endpoints.probe_unused(message_type, now)
        rows += probe
    for message_type in sorted(limited - gate.blocked - gate.probes):
        if len(rows) < limit:
            rows += _claim_limited(worker, now, limit - len(rows), message_type)
    return rows


def _claim_limited(
    worker: str, now: datetime, limit: int, message_type: str
) -> list[OutboxMessage]:
    """Claim rows of one endpoint, spending its rate-limit permits only on rows that exist."""
    if not selectors.due_heads(now).filter(message_type=message_type).exists():
        return []
    granted = endpoints.reserve(message_type, limit, now)
    rows = _claim(worker, now, granted, only=message_type) if granted else []
    endpoints.refund(message_type, granted - len(rows))
    return rows


def _claim(
    worker: str,
    now: datetime,
    limit: int,
    *,
    exclude: Iterable[str] = (),
    only: str | None = None,
) -> list[OutboxMessage]:
    candidates = selectors.due_heads(now)
    if only is not None:
        candidates = candidates.filter(message_type=only)
    elif exclude:
        candidates = candidates.exclude(message_type__in=list(exclude))
    token = f"{worker}:{uuid.uuid4().hex[:12]}"
    lease = now + timedelta(seconds=settings.OUTBOX_LEASE_SECONDS)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Rows another worker is claiming right now are skipped, not waited for.
            candidates = candidates.select_for_update(skip_locked=True)
        # On SQLite the IMMEDIATE transaction holds the write lock from here to commit.
        ids = list(candidates.values_list("id", flat=True)[:limit])
        if not ids:
            return []
        # Compare-and-set: only rows still pending and unleased are taken.
        OutboxMessage.objects.filter(id__in=ids, status=OutboxMessage.Status.PENDING).filter(
            selectors.lease_free(now)
        ).update(claimed_by=token, lease_expires_at=lease)
    claimed = OutboxMessage.objects.filter(id__in=ids, claimed_by=token)
    return list(claimed.order_by("occurred_at", "id"))


def release(rows: Iterable[OutboxMessage]) -> None:
    """Give back claimed rows that were not sent (no attempt is counted)."""
    rows = list(rows)
    if not rows:
        return
    OutboxMessage.objects.filter(
        id__in=[row.pk for row in rows],
        claimed_by__in={row.claimed_by for row in rows},
        status=OutboxMessage.Status.PENDING,
    ).update(lease_expires_at=None, claimed_by="")
