"""PEP's assign-bonus requests: accept once per (sender, requestId), record what was refused.

The grant itself happens later, in a worker (bonuses.services.grants), so PEP gets its 202 fast.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from bonuses.models import (
    AssignmentConflict,
    AssignmentItem,
    Bonus,
    BonusAssignment,
    RejectedAssignment,
)
from pepbridge.api.models import DEFAULT_SENDER

logger = logging.getLogger(__name__)

KICK_KEY = "bonuses:grant:kick"


class AssignmentInvalid(Exception):
    """The request can never succeed as sent (unknown bonus); `errors` maps field → messages."""

    def __init__(self, errors: Mapping[str, Sequence[str]]) -> None:
        self.errors = {key: list(value) for key, value in errors.items()}
        super().__init__(f"assign-bonus request rejected: {self.errors}")


class AssignmentConflictError(Exception):
    """The requestId was accepted before with a different body."""

    def __init__(self, assignment: BonusAssignment) -> None:
        self.assignment = assignment
        super().__init__(f"requestId {assignment.request_id} was accepted with another body")


@dataclass(frozen=True)
class AssignRequest:
    """An assign-bonus request as PEP sent it, after its fields were checked one by one."""

    request_id: str
    event_date: datetime
    player_ids: tuple[str, ...]
    bonus_ref: str
    amount: Decimal | None = None
    currency: str = ""
    source: str = ""


@dataclass(frozen=True)
class AcceptResult:
    assignment: BonusAssignment
    created: bool


def request_fingerprint(body: Any) -> str:
    """SHA-256 of the body's canonical JSON: key order and whitespace do not change it."""
    canonical = json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def assignment_accept(
    *, client_key: str, request: AssignRequest, body: Any, sender: str = DEFAULT_SENDER
) -> AcceptResult:
    """Store PEP's request once per (sender, requestId) and ask a worker to grant it.

    `sender` is the PEP instance, shared by all its credentials; `client_key` (the credential)
    is kept for staff.

    A copy with the same body returns the stored row (`created` False) and grants nothing. A
    different body raises AssignmentConflictError and is kept; an unknown bonus or a currency
    that does not fit it raises AssignmentInvalid and is recorded (unless the requestId was
    accepted before: a copy always gets the first answer). The common case costs one read and
    one insert: copies are found by the unique constraint, concurrent ones included (the losers
    read the winner's committed row).
    """
    fingerprint = request_fingerprint(body)
    bonus, errors = _bonus_check(request)
    if errors or bonus is None:  # None comes only with errors; this narrows the type
        existing = _assignment_find(sender, request.request_id)
        if existing is not None:
            return _assignment_repeat(existing, fingerprint, body)
        _rejection_store(sender, client_key, request.request_id, fingerprint, body, errors)
        raise AssignmentInvalid(errors)
    try:
        assignment = _assignment_create(sender, client_key, request, fingerprint, body, bonus)
    except IntegrityError:
        existing = _assignment_find(sender, request.request_id)
        if existing is None:
            raise
        return _assignment_repeat(existing, fingerprint, body)
    return AcceptResult(assignment, created=True)


def _assignment_find(sender: str, request_id: str) -> BonusAssignment | None:
    return BonusAssignment.objects.filter(sender=sender, request_id=request_id).first()


def _assignment_repeat(existing: BonusAssignment, fingerprint: str, body: Any) -> AcceptResult:
    if existing.fingerprint != fingerprint:
        _conflict_record(existing, fingerprint, body)
        raise AssignmentConflictError(existing)
    BonusAssignment.objects.filter(pk=existing.pk).update(duplicate_count=F("duplicate_count") + 1)
    return AcceptResult(existing, created=False)


def _bonus_check(request: AssignRequest) -> tuple[Bonus | None, dict[str, list[str]]]:
    """The catalogue bonus the request names, or the field errors that make it impossible."""
    bonus = Bonus.objects.filter(bonus_id=request.bonus_ref, retired_at__isnull=True).first()
    if bonus is None:
        return None, {"bonusId": [f"Unknown bonus {request.bonus_ref!r}."]}
    if request.currency and bonus.currency and request.currency != bonus.currency:
        return None, {"currency": [f"The bonus is in {bonus.currency}, not {request.currency}."]}
    if request.amount is not None and bonus.amount is None:
        return None, {"amount": ["The bonus is a percentage; it takes no amount."]}
    if request.amount is not None:  # the grant checks again: the catalogue may change meanwhile
        reason = bonus.amount_refusal(request.amount, overridden=request.amount != bonus.amount)
        if reason is not None:
            _limit_alert(reason, bonus, request.request_id)
            return None, {"amount": [str(AssignmentItem.Reason(reason).label) + "."]}
    return bonus, {}


def _limit_alert(reason: str, bonus: Bonus, request_id: str) -> None:
    """Log the alert a refusal at grant time logs too (ids and codes, no personal data).

    A burst of these is what a leaked PEP credential asking for money looks like.
    """
    logger.warning(
        "bonus_limit_refused",
        extra={
            "event": "bonus_limit_refused",
            "reason": reason,
            "stage": "accept",
            "bonus": bonus.bonus_id,
            "request_id": request_id,
        },
    )


def _assignment_create(
    sender: str,
    client_key: str,
    request: AssignRequest,
    fingerprint: str,
    body: Any,
    bonus: Bonus,
) -> BonusAssignment:
    """Insert the request; the players become AssignmentItems in the worker, off PEP's clock.

    One INSERT is atomic by itself: outside a transaction it commits on its own, which saves
    the BEGIN and COMMIT round trips while PEP waits. Inside a caller's transaction a savepoint
    keeps that transaction usable when the unique constraint fires.
    """
    atomic = transaction.atomic() if connection.in_atomic_block else nullcontext()
    with atomic:
        assignment = BonusAssignment.objects.create(
            sender=sender,
            client_key=client_key,
            request_id=request.request_id,
            fingerprint=fingerprint,
            body=body,
            event_date=request.event_date,
            bonus=bonus,
            player_ids=list(request.player_ids),
            amount=request.amount,
            currency=request.currency,
            source=request.source,
        )
    transaction.on_commit(_kick)  # at once when there is no outer transaction
    return assignment


def _kick() -> None:
    """Queue one grant pass unless one was queued moments ago (a burst queues one task).

    The pass runs until no request has come in for the debounce time, so a request whose kick
    was swallowed by the debounce is still seen; a lost kick costs latency only: the sweep
    grants anything left. The broker being down must not fail PEP's committed request.
    """
    debounce = settings.BONUS_GRANT_KICK_DEBOUNCE
    if debounce and not cache.add(KICK_KEY, 1, timeout=debounce):
        return
    from django_q.tasks import async_task

    try:
        async_task("bonuses.tasks.assignment_process_pending_task", group="bonuses")
    except Exception:
        logger.warning("bonus_grant_kick_failed; the sweep will grant", exc_info=True)


def _conflict_record(assignment: BonusAssignment, fingerprint: str, body: Any) -> None:
    now = timezone.now()
    conflict, created = AssignmentConflict.objects.get_or_create(
        assignment=assignment, fingerprint=fingerprint, defaults={"body": body}
    )
    if not created:
        AssignmentConflict.objects.filter(pk=conflict.pk).update(
            attempts=F("attempts") + 1, last_seen_at=now
        )
    logger.warning(
        "bonus_assignment_conflict client=%s request_id=%s",
        assignment.client_key,
        assignment.request_id,
    )


def assignment_reject(
    *, client_key: str, body: Any, errors: Mapping[str, Any], sender: str = DEFAULT_SENDER
) -> None:
    """Record a request answered 400 once per (sender, body), counting PEP's retries.

    `sender` is the PEP instance: its retries count on one row whichever credential they use.
    """
    request_id = body.get("requestId") if isinstance(body, Mapping) else None
    request_id = request_id if isinstance(request_id, str) else ""
    _rejection_store(sender, client_key, request_id[:128], request_fingerprint(body), body, errors)


def _rejection_store(
    sender: str,
    client_key: str,
    request_id: str,
    fingerprint: str,
    body: Any,
    errors: Mapping[str, Any],
) -> None:
    rejected, created = RejectedAssignment.objects.get_or_create(
        sender=sender,
        request_id=request_id,
        fingerprint=fingerprint,
        defaults={
            "client_key": client_key,
            "body": body,
            "errors": json.loads(json.dumps(errors, default=str)),
        },
    )
    if not created:
        RejectedAssignment.objects.filter(pk=rejected.pk).update(
            attempts=F("attempts") + 1, last_seen_at=timezone.now(), client_key=client_key
        )
    logger.info("bonus_assignment_rejected client=%s request_id=%s", client_key, request_id)


def assignment_prune(*, now: datetime | None = None) -> int:
    """Delete processed requests, conflicts and rejections older than the retention period.

    Player bonuses stay (they keep PEP's requestId); only the de-duplication record goes.
    """
    cutoff = (now or timezone.now()) - timedelta(days=settings.BONUS_ASSIGNMENT_RETENTION_DAYS)
    deleted, _ = BonusAssignment.objects.filter(
        status=BonusAssignment.Status.PROCESSED, received_at__lt=cutoff
    ).delete()
    rejected, _ = RejectedAssignment.objects.filter(last_seen_at__lt=cutoff).delete()
    return deleted + rejected
