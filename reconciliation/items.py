"""Opening reconciliation items, the one step both of PEP's ways of reporting missing data share.

A request (reconciliation/services.py) and a migration feedback's details
(reconciliation/feedback.py) each open items; here, so that neither imports the other and the
scheduled re-check in services can call feedback at module level.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.utils import timezone

from events import forwarding
from reconciliation.models import AuditStep, ReconciliationItem, ReconciliationRequest, RepairState

Kind = AuditStep.Kind


def open_items(
    request: ReconciliationRequest, pairs: Iterable[tuple[str, str]], *, cause: str
) -> list[ReconciliationItem]:
    """Create the items (player, field) of a request, each with its `received` step and state."""
    now = timezone.now()
    unique = list(dict.fromkeys(pairs))
    items = ReconciliationItem.objects.bulk_create(
        ReconciliationItem(request=request, player_id=pid, field=name, created_at=now)
        for pid, name in unique
    )
    AuditStep.objects.bulk_create(
        AuditStep(
            request=request,
            item=item,
            kind=Kind.RECEIVED,
            at=now,
            cause=cause[:200],
            player_id=item.player_id,
            field=item.field,
        )
        for item in items
    )
    RepairState.objects.bulk_create(
        RepairState(item=item, player_id=item.player_id, field=item.field, updated_at=now)
        for item in items
    )
    forwarding.forward([_opened_event(request, item, cause, now) for item in items])
    return items


def _opened_event(
    request: ReconciliationRequest, item: ReconciliationItem, cause: str, now: datetime
) -> forwarding.Event:
    """The operator's notice that PEP lacks a player's field (docs/webhooks.md): the name of
    the field only, never its value, which is what the operator's systems must supply."""
    return forwarding.Event(
        type="bridge.reconciliation_item_opened",
        key=f"reconciliation-item:{item.pk}",
        data={
            "itemId": item.pk,
            "requestId": request.request_id or None,
            "source": request.source,
            "playerId": item.player_id,
            "field": item.field,
            "cause": cause[:200],
            "openedAt": now,
        },
        occurred_at=now,
        player_id=item.player_id,
    )
