"""Why an outbox row is where it is, in one sentence for staff (issue 13).

The admin shows this instead of raw fields that mislead out of context: a dead letter's
"next attempt at", a replayed row's error from before the replay, a row that looks due but
waits behind its player's earlier message.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.admin.views.main import ChangeList
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from events.models import DeliveryAttempt, OutboxMessage
from events.selectors import open_circuits, player_heads
from events.services.housekeeping import STAFF_CANCELLED_ERROR_CLASS
from pepbridge.backoffice.admin_tools import local_time

Status = OutboxMessage.Status


def why_here(
    row: OutboxMessage,
    head: OutboxMessage | None = None,
    circuits: dict[str, datetime | None] | None = None,
    now: datetime | None = None,
) -> str:
    """One sentence on the row's state; `head` is its player's first pending row, if known."""
    now = now or timezone.now()
    if row.status == Status.DELIVERED:
        return f"Delivered at {local_time(row.delivered_at, now)}"
    if row.status == Status.FAILED:
        error = row.last_error_class or "an error"
        return f"Dead letter since {local_time(row.failed_at, now)} ({error}): replay to resend"
    if row.status == Status.CANCELLED:
        if row.last_error_class == STAFF_CANCELLED_ERROR_CLASS:
            return "Cancelled by staff: never sent (the reason is in its History)"
        return "Cancelled: the player was erased before it was sent"
    return _pending(row, head, circuits or {}, now)


def _pending(
    row: OutboxMessage,
    head: OutboxMessage | None,
    circuits: dict[str, datetime | None],
    now: datetime,
) -> str:
    if row.is_in_flight():
        return (
            f"Being sent by {row.claimed_by} (lease until {local_time(row.lease_expires_at, now)})"
        )
    if head is not None and head.pk != row.pk:
        return f"Waiting behind #{head.pk} ({_head_state(head, now)})"
    if row.message_type in circuits:
        until = circuits[row.message_type]
        return f"Paused: PEP's {row.message_type} endpoint is failing; circuit open until " + (
            local_time(until, now) if until else "a probe succeeds"
        )
    if row.next_attempt_at > now:
        verb = "Retrying" if row.attempts else "Scheduled"
        return f"{verb} at {local_time(row.next_attempt_at, now)}"
    return "Due now: the next worker pass sends it"


def _head_state(head: OutboxMessage, now: datetime) -> str:
    if head.is_in_flight():
        return "being sent"
    if head.next_attempt_at > now:
        verb = "retrying" if head.attempts else "due"
        return f"{verb} at {local_time(head.next_attempt_at, now)}"
    return "due now"


# A message page re-reads itself this often while a replay or "send now" is under way.
FOLLOW_SECONDS = 3
FOLLOW_WINDOW = timedelta(seconds=60)


def being_followed(row: OutboxMessage) -> bool:
    """A row just replayed or sent by hand and due about now: its page follows the send."""
    soon = timezone.now() + FOLLOW_WINDOW
    return (
        row.status == Status.PENDING
        and row.trigger != OutboxMessage.Trigger.SCHEDULED
        and row.next_attempt_at <= soon
    )


def has_previous_error(row: OutboxMessage) -> bool:
    """A replayed row still pending with no attempt since its replay: its error is history."""
    return bool(
        row.status == Status.PENDING
        and row.replayed_at
        and row.last_error_class
        and not row.deliveries.filter(started_at__gte=row.replayed_at).exists()
    )


class OutboxChangeList(ChangeList):
    """The outbox list, with each row's state sentence worked out for the page in a few queries."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        rows = list(self.result_list)
        now = timezone.now()
        heads, circuits = player_heads(rows), open_circuits()
        replayed = [r.pk for r in rows if r.status == Status.PENDING and r.replayed_at]
        tried = (
            set(
                DeliveryAttempt.objects.filter(
                    message_id__in=replayed, started_at__gte=F("message__replayed_at")
                ).values_list("message_id", flat=True)
            )
            if replayed
            else set()
        )
        for row in rows:
            row._why = why_here(row, heads.get(row.pk), circuits, now)
            row._previous_error = row.pk in replayed and row.pk not in tried
        self.result_list = rows
