"""Reward-shop purchases granted as catalogue bonuses, exactly once per purchase.

A purchase becomes a Fulfilment (unique `purchase_key`). Once staff map its product to a bonus,
it is granted through the assign-bonus grant service (bonuses.services: its blocks, maximums and
money limits), as an assignment from the sender "pep-webhook" whose requestId names the
fulfilment and attempt: the assignment's own unique constraint is a second guard. The
fulfilment, the assignment and the player's bonus commit together or not at all.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_q.tasks import async_task

from bonuses.models import AssignmentItem
from bonuses.services import (
    AssignmentInvalid,
    AssignRequest,
    assignment_accept,
    assignment_process,
)
from webhooks.decoding import Item, text_of
from webhooks.models import Fulfilment, InboxEvent, ProductMapping

logger = logging.getLogger(__name__)

SENDER = "pep-webhook"
PRODUCT_ID_KEYS = ("ProductId", "RewardShopProductId", "ItemId")
PRODUCT_NAME_KEYS = ("ProductName", "ProductExternalName", "ItemName")
PURCHASE_ID_KEYS = ("PurchaseId", "OrderId", "TransactionId")
Status = Fulfilment.Status


def _text(items: dict[str, Item], keys: tuple[str, ...]) -> str:
    return next((text for key in keys if (text := text_of(items.get(key)))), "")


def purchase_record(*, event: InboxEvent, items: dict[str, Item]) -> Fulfilment:
    """Store the purchase once and try to fulfil it (in the caller's transaction)."""
    purchase_id = _text(items, PURCHASE_ID_KEYS)
    key = (
        hashlib.sha256(f"purchase:{purchase_id}".encode()).hexdigest()
        if purchase_id
        else event.dedup_key
    )
    record, created = Fulfilment.objects.get_or_create(
        purchase_key=key,
        defaults={
            "event": event,
            "player_ref": event.player_ref,
            "product_id": _text(items, PRODUCT_ID_KEYS)[:128],
            "product_name": _text(items, PRODUCT_NAME_KEYS)[:200],
        },
    )
    if created:
        return fulfilment_attempt(fulfilment_id=record.pk)
    return record


def mapping_for(record: Fulfilment) -> ProductMapping | None:
    """The enabled mapping of the product: by PEP's product id, else by its name."""
    enabled = ProductMapping.objects.filter(enabled=True).select_related("bonus")
    if record.product_id:
        found = enabled.filter(pep_product_id=record.product_id).first()
        if found is not None:
            return found
    if record.product_name:
        return enabled.filter(
            pep_product_id="", pep_product_name__iexact=record.product_name
        ).first()
    return None


@transaction.atomic
def fulfilment_attempt(*, fulfilment_id: int) -> Fulfilment:
    """Grant the purchase's bonus if mapped and not done; safe to call twice or concurrently.

    A done fulfilment is never granted again. A failed one (refused by the grant rules) gets a
    new attempt with a new requestId, since its refused attempt granted nothing.
    """
    record = Fulfilment.objects.select_for_update().get(pk=fulfilment_id)
    if record.status == Status.DONE:
        return record
    mapping = mapping_for(record)
    if mapping is None:
        record.status, record.reason = Status.PENDING, "No product mapping yet."
        record.save(update_fields=["status", "reason"])
        return record
    record.mapping, record.attempts = mapping, record.attempts + 1
    _grant(record, mapping)
    record.save(
        update_fields=[
            "mapping",
            "attempts",
            "status",
            "reason",
            "assignment",
            "player_bonus",
            "fulfilled_at",
        ]
    )
    logger.info("webhook_fulfilment id=%s status=%s", record.pk, record.status)
    return record


def _grant(record: Fulfilment, mapping: ProductMapping) -> None:
    """Accept and process an assignment for the one player; set the record's outcome."""
    event_date = record.event.event_date or record.created_at
    request = AssignRequest(
        request_id=f"fulfilment-{record.pk}-{record.attempts}",
        event_date=event_date,
        player_ids=(record.player_ref,),
        bonus_ref=mapping.bonus.bonus_id,
        source="reward_shop",
    )
    body: dict[str, Any] = {"fulfilment": record.pk, "attempt": record.attempts}
    try:
        accepted = assignment_accept(client_key=SENDER, request=request, body=body, sender=SENDER)
    except AssignmentInvalid as exc:
        record.status, record.reason = Status.FAILED, str(exc.errors)[:2000]
        return
    assignment = assignment_process(assignment_id=accepted.assignment.pk)
    item = assignment.items.select_related("player_bonus").first()
    record.assignment = assignment
    if item is not None and item.outcome == AssignmentItem.Outcome.GRANTED:
        record.status, record.reason = Status.DONE, ""
        record.player_bonus, record.fulfilled_at = item.player_bonus, timezone.now()
    else:
        reason = item.get_reason_display() if item is not None else "not decided"
        record.status, record.reason = Status.FAILED, f"Refused by the grant rules: {reason}."


def fulfilments_fulfil(*, fulfilment_ids: list[int]) -> dict[str, int]:
    """Attempt each (staff's "fulfil now", the sweep); counts the outcomes by status.

    One that raises is logged and counted as "error" (its savepoint rolled back), so it
    cannot stop the others or the caller's transaction.
    """
    counts: dict[str, int] = {}
    for fulfilment_id in fulfilment_ids:
        try:
            status = str(fulfilment_attempt(fulfilment_id=fulfilment_id).status)
        except Exception:
            logger.exception("webhook_fulfilment_error id=%s", fulfilment_id)
            status = "error"
        counts[status] = counts.get(status, 0) + 1
    return counts


def fulfilments_fulfil_mapped(*, limit: int = 200) -> int:
    """Fulfil waiting purchases whose product has an enabled mapping now."""
    mapped = ProductMapping.objects.filter(enabled=True)
    ids = [m for m in mapped.exclude(pep_product_id="").values_list("pep_product_id", flat=True)]
    names = list(mapped.filter(pep_product_id="").values_list("pep_product_name", flat=True))
    match = Q(product_id__in=ids)
    for name in names:
        match |= Q(product_name__iexact=name)
    waiting = Fulfilment.objects.filter(match, status=Status.PENDING).order_by("pk")
    pending = list(waiting.values_list("pk", flat=True)[:limit])
    fulfilments_fulfil(fulfilment_ids=pending)
    return len(pending)


@transaction.atomic
def product_mapping_save(*, mapping: ProductMapping) -> ProductMapping:
    """Save a staff-edited mapping; the purchases waiting for it are fulfilled after commit."""
    mapping.full_clean()
    mapping.save()
    transaction.on_commit(_fulfil_mapped_later)
    return mapping


def _fulfil_mapped_later() -> None:
    try:
        async_task("webhooks.tasks.fulfil_mapped_task", group="webhooks")
    except Exception:
        logger.warning("webhook_fulfil_kick_failed; the sweep will fulfil", exc_info=True)
