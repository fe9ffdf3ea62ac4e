"""Replays of dead letters, manual sends, pruning, and the django-q2 schedules."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from events import lanes, selectors
from events.kick import request_delivery
from events.models import OutboxMessage, Replay

Status = OutboxMessage.Status
SWEEP_SCHEDULE = "events.outbox_sweep"
PRUNE_SCHEDULE = "events.outbox_prune"


@transaction.atomic
def replay_failed(
    *,
    actor: str,
    message_ids: list[int] | None = None,
    message_type: str | None = None,
    player_id: str | None = None,
    error_class: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> int:
    """Re-arm dead letters matching the filter for delivery; return how many.

    One UPDATE, whatever the count: the rows go back to pending (trigger "replay", a fresh
    retry schedule) and the workers send them, each player's in order, with their original
    bytes. Only rows still failed match, so a second identical replay re-arms nothing. The
    replay is recorded (who, when, filter, count), even when it matched nothing, and each row
    keeps its own trace (replayed_at/_by, replay_count) after delivery resets its trigger.
    """
    filters: dict[str, Any] = {
        "message_ids": message_ids,
        "message_type": message_type,
        "player_id": player_id,
        "error_class": error_class,
        "since": since,
        "until": until,
    }
    now = timezone.now()
    matching = selectors.failed_rows(**filters)
    # Before the UPDATE (the filter reads failed rows): the players' lanes, due now.
    players = matching.exclude(lane=None).values_list("lane", flat=True).distinct()
    lanes.touch(list(players), due=now, wake=True)
    count = matching.update(
        status=Status.PENDING,
        trigger=OutboxMessage.Trigger.REPLAY,
        next_attempt_at=now,
        retry_step=0,
        first_failed_at=None,
        failed_at=None,
        lease_expires_at=None,
        claimed_by="",
        replayed_at=now,
        replayed_by=actor,
        replay_count=F("replay_count") + 1,
    )
    Replay.objects.create(actor=actor, created_at=now, filter=_jsonable(filters), count=count)
    if count:
        transaction.on_commit(request_delivery)
    return count


def _jsonable(filters: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value.isoformat() if isinstance(value, datetime) else value
        for key, value in filters.items()
        if value is not None
    }


@transaction.atomic
def send_now(*, message_ids: list[int]) -> int:
    """Make pending rows due at once (trigger "manual"), e.g. from the admin; return how many."""
    now = timezone.now()
    rows = OutboxMessage.objects.filter(id__in=message_ids, status=Status.PENDING)
    players = rows.exclude(lane=None).values_list("lane", flat=True).distinct()
    lanes.touch(list(players), due=now, wake=True)
    count = rows.update(next_attempt_at=now, trigger=OutboxMessage.Trigger.MANUAL)
    if count:
        transaction.on_commit(request_delivery)
    return count


# What a staff-cancelled row records as its error class (the erasure's is "PlayerErased").
STAFF_CANCELLED_ERROR_CLASS = "CancelledByStaff"


@transaction.atomic
def outbox_cancel(*, message_ids: list[int], actor: str, reason: str) -> int:
    """Mark pending or dead-lettered rows as never to be sent; return how many.

    Rows in flight (a live lease) are left alone: a worker may be sending them right now. A
    cancelled row no longer holds back its player's later messages.
    """
    now = timezone.now()
    rows = OutboxMessage.objects.filter(
        id__in=message_ids, status__in=[Status.PENDING, Status.FAILED]
    ).filter(selectors.lease_free(now))
    # The lane may wait out the cancelled head's backoff: the next row may go at once.
    players = rows.exclude(lane=None).values_list("lane", flat=True).distinct()
    lanes.touch(list(players), due=now, wake=True)
    count = rows.update(
        status=Status.CANCELLED,
        lease_expires_at=None,
        claimed_by="",
        last_error_class=STAFF_CANCELLED_ERROR_CLASS,
        last_error=f"Cancelled by {actor}: {reason}",
    )
    if count:
        transaction.on_commit(request_delivery)
    return count


def prune_delivered(*, older_than_days: int | None = None, batch_size: int | None = None) -> int:
    """Delete delivered rows (and their attempts) older than the retention, batch by batch.

    Each batch is its own short transaction, so no lock is held for long and workers go on.
    Dead letters and pending rows are never pruned.
    """
    days = older_than_days or settings.OUTBOX_PRUNE_AFTER_DAYS
    size = batch_size or settings.OUTBOX_PRUNE_BATCH
    cutoff = timezone.now() - timedelta(days=days)
    old = OutboxMessage.objects.filter(status=Status.DELIVERED, delivered_at__lt=cutoff)
    total = 0
    while ids := list(old.values_list("id", flat=True)[:size]):
        with transaction.atomic():
            OutboxMessage.objects.filter(id__in=ids).delete()
        total += len(ids)
    return total


def setup_schedules(schedule_model: Any = None) -> None:
    """Create or update the sweep and prune schedules in django-q2 (idempotent).

    Called by the events data migration (with the historical model) and by
    `manage.py outbox_schedules` after changing OUTBOX_SWEEP_MINUTES.
    """
    if schedule_model is None:
        from django_q.models import Schedule

        schedule_model = Schedule
    schedule_model.objects.update_or_create(
        name=SWEEP_SCHEDULE,
        defaults={
            "func": "events.tasks.sweep",
            "schedule_type": "I",  # Schedule.MINUTES
            "minutes": settings.OUTBOX_SWEEP_MINUTES,
            "repeats": -1,
        },
    )
    schedule_model.objects.update_or_create(
        name=PRUNE_SCHEDULE,
        defaults={"func": "events.tasks.prune", "schedule_type": "H", "repeats": -1},
    )


def remove_schedules(schedule_model: Any = None) -> None:
    if schedule_model is None:
        from django_q.models import Schedule

        schedule_model = Schedule
    schedule_model.objects.filter(name__in=[SWEEP_SCHEDULE, PRUNE_SCHEDULE]).delete()
