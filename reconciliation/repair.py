"""The repair: send PEP the values the bridge holds, wait for the rest, confirm what PEP took.

Every status change of an item is written to the trail as an AuditStep in the same transaction
(style practice 5). The bridge never calls PEP here: a value goes out as a profile update
through the outbox, and "PEP accepted" is read off the outbox row once it is delivered.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from events.messages.base import MessageRejected
from events.messages.players import build_player_update
from events.models import OutboxMessage
from events.outbox import enqueue
from players.models import Player
from players.profile import WIRE_TO_FIELD
from players.selectors import player_field_values
from reconciliation.models import AuditStep, RepairState

logger = logging.getLogger("reconciliation")

Kind = AuditStep.Kind
Status = RepairState.Status
Reason = RepairState.Reason
OPERATOR_CAUSE = "operator:player_changed"
REOPEN_BATCH = 1000  # items re-opened (locked, updated, stepped) per statement


@dataclass
class RepairOutcome:
    """What one repair pass did to a player's items."""

    sent: int = 0
    waiting: int = 0
    failed: int = 0
    unknown_player: int = 0
    outbox_message_id: int | None = None


def _change(
    states: Sequence[RepairState],
    status: str,
    kind: str,
    cause: str,
    *,
    reason: str = "",
    outbox_message_id: int | None = None,
    detail: str = "",
    at: datetime | None = None,
) -> list[AuditStep]:
    """Move `states` to `status`; return a step for each that changed (every send is a step).

    The steps are dated `at` (default: now, which is also the states' `updated_at`).
    """
    if not states:
        return []
    changed = [s for s in states if s.status != status or kind == Kind.VALUE_SENT]
    now = timezone.now()
    RepairState.objects.filter(pk__in=[s.pk for s in states]).update(
        status=status, reason=reason, outbox_message_id=outbox_message_id, updated_at=now
    )
    for state in states:
        state.status, state.reason, state.updated_at = status, reason, now
        state.outbox_message_id = outbox_message_id
    return [
        _step(state, kind, cause, at=at or now, outbox_message_id=outbox_message_id, detail=detail)
        for state in changed
    ]


def _step(
    state: RepairState,
    kind: str,
    cause: str,
    *,
    at: datetime,
    outbox_message_id: int | None,
    detail: str,
) -> AuditStep:
    return AuditStep(
        request_id=state.item.request_id,
        item_id=state.pk,
        kind=kind,
        at=at,
        cause=cause[:200],
        player_id=state.player_id,
        field=state.field,
        outbox_message_id=outbox_message_id,
        detail=detail[:500],
    )


def _send(
    player: Player, states: list[RepairState], values: dict[str, object], cause: str
) -> list[AuditStep]:
    """Queue one profile update with the held values of `states` (never the values in the trail)."""
    try:
        message = build_player_update(
            player.player_id, {s.field: values[s.field] for s in states}, timezone.now()
        )
    except MessageRejected as exc:
        names = ", ".join(sorted(exc.field_errors))
        detail = f"the held value does not pass PEP's contract ({names})"
        return _change(
            states, Status.FAILED, Kind.FAILED, cause, reason=Reason.INVALID_VALUE, detail=detail
        )
    if message is None:  # never: `states` is not empty
        return []
    row = enqueue(message)
    return _change(states, Status.SENT, Kind.VALUE_SENT, cause, outbox_message_id=row.pk)


def _repair_known(player: Player, states: list[RepairState], cause: str) -> list[AuditStep]:
    if player.erased_at is not None:
        return _change(
            states,
            Status.FAILED,
            Kind.FAILED,
            cause,
            reason=Reason.PLAYER_ERASED,
            detail="the player was erased",
        )
    unknown = [s for s in states if s.field not in WIRE_TO_FIELD]
    known = [s for s in states if s.field in WIRE_TO_FIELD]
    values = player_field_values(player, {s.field for s in known})
    have = [s for s in known if s.field in values]
    lack = [s for s in known if s.field not in values]
    steps = _change(
        unknown,
        Status.FAILED,
        Kind.FAILED,
        cause,
        reason=Reason.UNKNOWN_FIELD,
        detail="not a profile field the bridge knows",
    )
    if have:
        steps += _send(player, have, values, cause)
    steps += _change(
        lack,
        Status.WAITING,
        Kind.WAITING,
        cause,
        reason=Reason.NO_VALUE,
        detail="the bridge holds no value",
    )
    return steps


@transaction.atomic
def repair_player(
    player_id: str, *, cause: str, statuses: Iterable[str] = RepairState.NEEDS_VALUE
) -> RepairOutcome:
    """Send what the bridge holds for the player's open items; mark the rest as waiting.

    Items of a player the bridge does not know become `unknown_player` (and are repaired when
    the operator registers the player). Safe to call again: items already sent are left alone,
    and an item that stays waiting gets no new step.
    """
    # of=self: lock the states only. FOR UPDATE on the joined item would need UPDATE on the
    # trail, which the app role does not have (docs/security.md, "Database roles").
    states = list(
        RepairState.objects.select_for_update(of=("self",))
        .select_related("item")
        .filter(player_id=player_id, status__in=list(statuses))
        .order_by("pk")
    )
    if not states:
        return RepairOutcome()
    player = Player.objects.filter(player_id=player_id).first()
    if player is None:
        steps = _change(
            states,
            Status.UNKNOWN_PLAYER,
            Kind.UNKNOWN_PLAYER,
            cause,
            reason=Reason.NO_SUCH_PLAYER,
            detail="no such player",
        )
    else:
        steps = _repair_known(player, states, cause)
    AuditStep.objects.bulk_create(steps)
    return _outcome(states)


def _outcome(states: Iterable[RepairState]) -> RepairOutcome:
    outcome = RepairOutcome()
    for state in states:
        if state.status == Status.SENT:
            outcome.sent += 1
            outcome.outbox_message_id = state.outbox_message_id
        elif state.status == Status.WAITING:
            outcome.waiting += 1
        elif state.status == Status.UNKNOWN_PLAYER:
            outcome.unknown_player += 1
        elif state.status == Status.FAILED:
            outcome.failed += 1
    return outcome


def operator_cause(way_in: str | None = None) -> str:
    """The cause of a repair the operator's change set off, naming the way in when known."""
    return f"{OPERATOR_CAUSE} via {way_in}"[:200] if way_in else OPERATOR_CAUSE


def on_player_changed(player: Player, changed: frozenset[str], *, cause: str | None = None) -> None:
    """players.services hook: the operator supplied data, so send what open items were missing.

    `cause` names the way the data came in ("api:<client>", "ingest:<client id>", "loader:<file>"),
    recorded as "operator:player_changed via <cause>"; without it the steps say
    "operator:player_changed". Runs inside the operator's write; a savepoint keeps a failure here
    from undoing that write (the scheduled re-check repairs the items later instead).
    """
    open_items = RepairState.objects.filter(
        player_id=player.player_id, status__in=RepairState.NEEDS_VALUE
    )
    if not open_items.exists():
        return
    try:
        with transaction.atomic():
            repair_player(player.player_id, cause=operator_cause(cause))
    except Exception:
        logger.exception("reconciliation repair failed; the re-check will retry")


def reopen_states(states: QuerySet[RepairState], *, cause: str, detail: str) -> set[str]:
    """Set `states` back to `new` for another send, with a `reopened` step for each that changes.

    Call inside a transaction. Rows are locked and re-filtered batch by batch, so an item that
    changed meanwhile (e.g. PEP's acceptance confirmed) is left alone if it no longer matches.
    Returns the player ids of the re-opened items.
    """
    pks = list(states.order_by("pk").values_list("pk", flat=True))
    players: set[str] = set()
    for start in range(0, len(pks), REOPEN_BATCH):
        batch = list(
            states.select_for_update(of=("self",))
            .select_related("item")
            .filter(pk__in=pks[start : start + REOPEN_BATCH])
            .order_by("pk")
        )
        players.update(state.player_id for state in batch)
        steps = _change(
            batch, Status.NEW, Kind.REOPENED, cause, reason=Reason.RESYNC, detail=detail
        )
        AuditStep.objects.bulk_create(steps)
    return players


def confirm_deliveries(*, cause: str, batch_size: int = 1000) -> int:
    """Close sent items whose outbox message PEP accepted (or that was dead-lettered).

    Walks every sent item in primary-key batches, each its own short transaction. Returns how
    many items changed. A cancelled row (the player was erased before delivery) fails the item.
    A sent item whose outbox row is gone (deleted by staff) goes back to `new`, with a
    `reopened` step, so the next repair pass sends it again.
    """
    changed, after = 0, 0
    while True:
        count, seen, after = _confirm_batch(cause, after, batch_size)
        changed += count
        if seen < batch_size:
            return changed


@transaction.atomic
def _confirm_batch(cause: str, after: int, batch_size: int) -> tuple[int, int, int]:
    """(items changed, items looked at, last primary key) for one batch after `after`."""
    states = list(
        RepairState.objects.select_for_update(of=("self",))
        .select_related("item")
        .filter(status=Status.SENT, pk__gt=after)
        .order_by("pk")[:batch_size]
    )
    ids = {s.outbox_message_id for s in states}
    rows = OutboxMessage.objects.filter(pk__in=ids).only(
        "status", "last_error_class", "delivered_at"
    )
    by_id = {row.pk: row for row in rows}
    steps: list[AuditStep] = []
    for state in states:
        steps += _confirm_one(state, by_id.get(state.outbox_message_id or 0), cause)
    AuditStep.objects.bulk_create(steps)
    changed = sum(1 for s in states if s.status != Status.SENT)
    return changed, len(states), states[-1].pk if states else after


def _confirm_one(state: RepairState, row: OutboxMessage | None, cause: str) -> list[AuditStep]:
    message_id = state.outbox_message_id
    if row is None:
        detail = f"outbound message {message_id} is gone; the value will be sent again"
        return _change(
            [state], Status.NEW, Kind.REOPENED, cause, reason=Reason.MESSAGE_GONE, detail=detail
        )
    if row.status == OutboxMessage.Status.DELIVERED:
        return _accepted(state, row, cause)
    if row.status in _NOT_DELIVERED:
        reason, detail = _NOT_DELIVERED[row.status]
        return _change(
            [state],
            Status.FAILED,
            Kind.FAILED,
            cause,
            reason=reason,
            outbox_message_id=message_id,
            detail=detail.format(error=row.last_error_class or "dead letter"),
        )
    return []


# A closed outbox row that never reached PEP: (reason, detail) of the item's failure.
_NOT_DELIVERED: dict[str, tuple[Reason, str]] = {
    OutboxMessage.Status.FAILED: (Reason.PEP_REFUSED, "PEP did not take the update ({error})"),
    OutboxMessage.Status.CANCELLED: (
        Reason.MESSAGE_CANCELLED,
        "the player was erased; the update was cancelled before it reached PEP",
    ),
}


def _accepted(state: RepairState, row: OutboxMessage, cause: str) -> list[AuditStep]:
    """The "PEP accepted" step at the time PEP took the update, "resolved" when we recorded it."""
    message_id = state.outbox_message_id
    steps = _change(
        [state],
        Status.REPAIRED,
        Kind.PEP_ACCEPTED,
        cause,
        outbox_message_id=message_id,
        at=row.delivered_at,  # None (never for a delivered row): the time of this check
    )
    resolved = _step(
        state,
        Kind.RESOLVED,
        cause,
        at=state.updated_at,
        outbox_message_id=message_id,
        detail="PEP accepted the value",
    )
    return [*steps, resolved]
