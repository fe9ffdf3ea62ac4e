"""Reads shared by the services, the tasks, the export and the admin."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from reconciliation.models import AuditStep, FeedbackDownload, RepairState, RequestExpansion


def open_player_ids(*, request_pk: int | None = None, limit: int | None = None) -> list[str]:
    """Players with items still needing a value, least recently checked first."""
    states = RepairState.objects.filter(status__in=RepairState.NEEDS_VALUE)
    if request_pk is not None:
        states = states.filter(item__request_id=request_pk)
    ordered = states.order_by("updated_at", "pk").values_list("player_id", flat=True)
    seen: dict[str, None] = {}
    for player_id in ordered.iterator(chunk_size=2000):
        seen.setdefault(player_id)
        if limit is not None and len(seen) >= limit:
            break
    return list(seen)


def pending_expansion_ids(*, limit: int = 20) -> list[int]:
    """Accepted requests whose items are not all open yet, oldest progress first."""
    pending = RequestExpansion.objects.filter(status=RequestExpansion.Status.PENDING)
    return list(pending.order_by("updated_at").values_list("pk", flat=True)[:limit])


def due_download_ids(*, limit: int = 20) -> list[int]:
    """Feedback downloads whose (next) attempt is due."""
    due = FeedbackDownload.objects.filter(
        status=FeedbackDownload.Status.PENDING, next_attempt_at__lte=timezone.now()
    )
    return list(due.order_by("next_attempt_at").values_list("pk", flat=True)[:limit])


def states_for_resync(
    *,
    player_ids: Sequence[str] | None = None,
    statuses: Sequence[str] | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> QuerySet[RepairState]:
    """The items a staff re-sync re-opens; by default every item not yet repaired."""
    states = RepairState.objects.all()
    if statuses:
        states = states.filter(status__in=list(statuses))
    else:
        states = states.exclude(status=RepairState.Status.REPAIRED)
    if player_ids:
        states = states.filter(player_id__in=list(player_ids))
    if created_after:
        states = states.filter(item__created_at__gte=created_after)
    if created_before:
        states = states.filter(item__created_at__lt=created_before)
    return states


def audit_steps(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    player_id: str | None = None,
    steps: QuerySet[AuditStep] | None = None,
) -> QuerySet[AuditStep]:
    """The trail's steps (of `steps`, e.g. an admin list's selection) for a period and/or a
    player, oldest first (the export)."""
    steps = AuditStep.objects.all() if steps is None else steps
    if since is not None:
        steps = steps.filter(at__gte=since)
    if until is not None:
        steps = steps.filter(at__lt=until)
    if player_id:
        steps = steps.filter(player_id=player_id)
    return steps.order_by("at", "id")
