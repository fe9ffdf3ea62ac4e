"""Reconciliation intake and staff operations: record each request as received, open its items,
queue the repair; re-check open items; re-sync on a staff member's word.

Every request is recorded, whatever its fate (accepted, repeated, conflicting, malformed), in
the same transaction as its items and their first steps. Repairs run after commit in django-q2
tasks; the scheduled re-check picks up whatever a lost task left.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from reconciliation import selectors
from reconciliation.feedback import feedback_fetch
from reconciliation.items import open_items
from reconciliation.models import (
    AuditStep,
    FeedbackDownload,
    ReconciliationItem,
    ReconciliationRequest,
    RequestExpansion,
)
from reconciliation.repair import (
    RepairOutcome,
    confirm_deliveries,
    reopen_states,
    repair_player,
)

logger = logging.getLogger("reconciliation")

Source = ReconciliationRequest.Source
Outcome = ReconciliationRequest.Outcome
Kind = AuditStep.Kind
RECHECK_CAUSE = "task:reconciliation.recheck"
_REPEAT_KINDS = {Outcome.DUPLICATE: Kind.DUPLICATE, Outcome.CONFLICT: Kind.CONFLICT}


def cause_pep(client_label: str) -> str:
    return f"pep:{client_label}"


def cause_staff(username: str) -> str:
    return f"staff:{username}"


@dataclass(frozen=True)
class Receipt:
    """How a request was recorded; `original` is the accepted request a repeat refers to."""

    request: ReconciliationRequest
    outcome: str
    original: ReconciliationRequest | None = None


def fingerprint(payload: Any) -> str:
    """sha256 of the body in a canonical JSON form, to tell a repeat from a conflicting reuse."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _request_step(request: ReconciliationRequest, kind: str, detail: str = "") -> AuditStep:
    return AuditStep(
        request=request, kind=kind, at=request.received_at, cause=request.cause, detail=detail
    )


def request_reject(
    *, source: str, payload: Any, errors: Mapping[str, Any], cause: str
) -> ReconciliationRequest:
    """Record a malformed request and the field errors it was answered with."""
    id_key = "migrationTasksId" if source == Source.FEEDBACK else "requestId"
    request_id = payload.get(id_key) if isinstance(payload, Mapping) else None
    with transaction.atomic():
        request = ReconciliationRequest.objects.create(
            source=source,
            request_id=request_id[:200] if isinstance(request_id, str) else "",
            outcome=Outcome.REJECTED,
            cause=cause[:200],
            payload=payload if isinstance(payload, Mapping | list) else {"raw": str(payload)},
            errors=dict(errors),
        )
        detail = "invalid: " + ", ".join(sorted(str(name) for name in errors))
        _request_step(request, Kind.REJECTED, detail).save()
    return request


def _record(
    *,
    source: str,
    request_id: str,
    event_date: datetime | None,
    payload: Any,
    cause: str,
    fingerprint_of: Any,
) -> Receipt:
    """Insert the request as accepted, or as a repeat of the accepted one with its requestId."""
    values = {
        "source": source,
        "request_id": request_id,
        "event_date": event_date,
        "payload": payload,
        "cause": cause[:200],
        "fingerprint": fingerprint(fingerprint_of),
    }
    accepted = ReconciliationRequest.objects.filter(
        source=source, request_id=request_id, outcome=Outcome.ACCEPTED
    )
    original = accepted.first()
    if original is None:
        try:
            with transaction.atomic():  # a savepoint: a concurrent twin may win the insert
                request = ReconciliationRequest.objects.create(outcome=Outcome.ACCEPTED, **values)
        except IntegrityError:
            original = accepted.get()
        else:
            _request_step(request, Kind.RECEIVED).save()
            return Receipt(request, Outcome.ACCEPTED)
    same = original.fingerprint == values["fingerprint"]
    outcome = Outcome.DUPLICATE if same else Outcome.CONFLICT
    request = ReconciliationRequest.objects.create(outcome=outcome, **values)
    _request_step(request, _REPEAT_KINDS[outcome], f"repeat of request #{original.pk}").save()
    return Receipt(request, outcome, original)


@transaction.atomic
def reconciliation_receive(
    *,
    request_id: str,
    event_date: datetime,
    players: Sequence[Mapping[str, Any]],
    payload: Any,
    cause: str,
) -> Receipt:
    """Record PEP's reconciliation request; its items are opened after the answer.

    Idempotent on `requestId`: a repeat with the same body is recorded as a duplicate and opens
    nothing; with another body it is recorded as a conflict (the view answers 409). An accepted
    request gets a pending `RequestExpansion`; after commit a task opens its items in chunks
    (`request_expand`) and repairs them (reconciliation.tasks.repair_request). Opening 100,000
    items inside the request took 27 s and held SQLite's write lock all along.
    """
    receipt = _record(
        source=Source.API,
        request_id=request_id,
        event_date=event_date,
        payload=payload,
        cause=cause,
        fingerprint_of=payload,
    )
    if receipt.outcome == Outcome.ACCEPTED:
        todo = [[p["player_id"], list(dict.fromkeys(p["fields"]))] for p in players]
        RequestExpansion.objects.create(request=receipt.request, players=todo)
        pk = receipt.request.pk
        transaction.on_commit(lambda: queue_task("reconciliation.tasks.repair_request", pk))
    return receipt


def request_expand(request_pk: int) -> int:
    """Open the items of an accepted request, a chunk of players per transaction.

    Safe to run again, or twice at once: each chunk locks the expansion row, reads where the
    last committed chunk ended, and skips (player, field) pairs already open in the request.
    Returns the number of items opened by this call.
    """
    opened = 0
    while True:
        count, done = _expand_chunk(request_pk)
        opened += count
        if done:
            return opened


@transaction.atomic
def _expand_chunk(request_pk: int) -> tuple[int, bool]:
    expansion = (
        RequestExpansion.objects.select_for_update(of=("self",))
        .select_related("request")
        .filter(pk=request_pk, status=RequestExpansion.Status.PENDING)
        .first()
    )
    if expansion is None:
        return 0, True
    request = expansion.request
    players = expansion.players
    start = expansion.next_player
    chunk = players[start : start + settings.RECONCILIATION_EXPAND_CHUNK]
    pairs = [(player_id, name) for player_id, names in chunk for name in names]
    already = set(
        ReconciliationItem.objects.filter(
            request=request, player_id__in={player_id for player_id, _ in chunk}
        ).values_list("player_id", "field")
    )
    items = open_items(request, [p for p in pairs if p not in already], cause=request.cause)
    expansion.next_player = start + len(chunk)
    expansion.items += len(items)
    expansion.updated_at = timezone.now()
    changed = ["next_player", "items", "updated_at"]
    if expansion.next_player >= len(players):
        expansion.status = RequestExpansion.Status.DONE
        expansion.players = []
        changed += ["status", "players"]  # the list is rewritten once, not once per chunk
    expansion.save(update_fields=changed)
    return len(items), expansion.status == RequestExpansion.Status.DONE


@transaction.atomic
def feedback_receive(
    *, tasks_id: str, errors_total: int, details_url: str, payload: Any, cause: str
) -> Receipt:
    """Record PEP's migration feedback; when it reports errors, queue the download of details.

    A repeat for the same migration task opens nothing; if the earlier download has not
    succeeded yet, the (possibly fresh) detailsURL of the repeat is tried again now.
    """
    without_url = {k: v for k, v in payload.items() if k != "detailsURL"}
    receipt = _record(
        source=Source.FEEDBACK,
        request_id=tasks_id,
        event_date=None,
        payload=payload,
        cause=cause,
        fingerprint_of=without_url,
    )
    download: FeedbackDownload | None
    if receipt.outcome == Outcome.ACCEPTED and errors_total > 0:
        download = FeedbackDownload.objects.create(request=receipt.request, url=details_url)
    elif receipt.original is not None and details_url:
        download = _rearm(receipt.original, details_url)
    else:
        return receipt
    if download is not None:
        pk = download.pk
        transaction.on_commit(lambda: queue_task("reconciliation.tasks.fetch_feedback", pk))
    return receipt


def _rearm(original: ReconciliationRequest, url: str) -> FeedbackDownload | None:
    now = timezone.now()
    pending = FeedbackDownload.objects.filter(request=original).exclude(
        status=FeedbackDownload.Status.DONE
    )
    if not pending.update(
        url=url, status=FeedbackDownload.Status.PENDING, next_attempt_at=now, updated_at=now
    ):
        return None
    return pending.first()


def queue_task(func: str, *args: Any) -> None:
    """Queue a django-q2 task; a broker outage only delays the work (the re-check does it)."""
    from django_q.tasks import async_task

    try:
        async_task(func, *args, group="reconciliation")
    except Exception:
        logger.warning("reconciliation task not queued; the re-check will do it", exc_info=True)


def repair_request(request_pk: int, *, cause: str) -> RepairOutcome:
    """Open the request's items if not done yet, then repair its players (each player in its
    own short transaction)."""
    request_expand(request_pk)
    total = RepairOutcome()
    for player_id in selectors.open_player_ids(request_pk=request_pk):
        _add(total, repair_player(player_id, cause=cause))
    return total


def _add(total: RepairOutcome, one: RepairOutcome) -> None:
    total.sent += one.sent
    total.waiting += one.waiting
    total.failed += one.failed
    total.unknown_player += one.unknown_player


@dataclass
class RecheckReport:
    confirmed: int = 0
    expanded: int = 0
    repair: RepairOutcome = field(default_factory=RepairOutcome)
    downloads: int = 0


def reconciliation_recheck(*, cause: str = RECHECK_CAUSE, player_limit: int = 500) -> RecheckReport:
    """The scheduled pass: confirm what PEP accepted, retry waiting items, retry downloads.

    Waiting items are visited least recently checked first, `player_limit` players per pass.
    """
    report = RecheckReport(confirmed=confirm_deliveries(cause=cause))
    for request_pk in selectors.pending_expansion_ids():
        report.expanded += request_expand(request_pk)  # a task lost or killed mid-way
    for player_id in selectors.open_player_ids(limit=player_limit):
        _add(report.repair, repair_player(player_id, cause=cause))
    for download_id in selectors.due_download_ids():
        feedback_fetch(download_id, cause=cause)
        report.downloads += 1
    return report


@dataclass
class ResyncReport:
    request: ReconciliationRequest
    players: int
    repair: RepairOutcome


def resync_players(
    *,
    player_ids: Sequence[str] | None = None,
    statuses: Sequence[str] | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    actor: str,
) -> ResyncReport:
    """Re-open and re-send the matching items, on a staff member's word (admin, command).

    Default: every item not yet repaired. The re-sync is itself recorded as a request whose
    cause names `actor`; each step it causes (the `reopened` step of every item it moves back
    to `new`, then the repair's) names the actor and the re-sync.
    """
    filters = {
        "player_ids": list(player_ids or []),
        "statuses": list(statuses or []),
        "created_after": created_after.isoformat() if created_after else None,
        "created_before": created_before.isoformat() if created_before else None,
    }
    with transaction.atomic():
        request = ReconciliationRequest.objects.create(
            source=Source.RESYNC,
            outcome=Outcome.ACCEPTED,
            cause=cause_staff(actor)[:200],
            payload=filters,
        )
        _request_step(request, Kind.RECEIVED).save()
        states = selectors.states_for_resync(
            player_ids=player_ids,
            statuses=statuses,
            created_after=created_after,
            created_before=created_before,
        )
        cause = f"{cause_staff(actor)} (re-sync #{request.pk})"
        detail = f"re-opened by staff re-sync #{request.pk}"
        players = sorted(reopen_states(states, cause=cause, detail=detail))
    total = RepairOutcome()
    for player_id in players:
        _add(total, repair_player(player_id, cause=cause))
    return ResyncReport(request, len(players), total)
