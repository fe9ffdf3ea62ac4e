"""The one way a staff action is recorded: a StaffAction row plus a LogEntry per affected row."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model

from pepbridge.backoffice.models import StaffAction

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

Kind = StaffAction.Kind
# Actions that end something for good or for many at once: a reason is required.
REASON_REQUIRED = frozenset(
    {
        Kind.CANCEL_MESSAGE,
        Kind.CANCEL_PLAYER_BONUS,
        Kind.FORFEIT_PLAYER_BONUS,
        Kind.CLIENT_DISABLE,
        Kind.API_KEY_REVOKE,
    }
)
LOG_BATCH = 1000


def reason_required(action: str, count: int) -> bool:
    """Whether `action` on `count` rows needs a reason: the risky ones, and bulk replays."""
    return action in REASON_REQUIRED or (action == Kind.REPLAY and count > 1)


@transaction.atomic
def staff_action_record(
    *,
    user: Any,
    action: str,
    objects: Sequence[Model],
    outcome: str = "",
    reason: str = "",
    action_flag: int = CHANGE,
    describe: Callable[[Any], str] = str,
    log_entries: bool = True,
) -> StaffAction:
    """Record who did `action` to `objects`, when, with what outcome and why.

    Call it in the same transaction as the change it records, so neither exists without the
    other. Raises ValidationError when the action needs a reason and none was given: the
    caller asks for one first (admin_tools.reason_or_confirmation).
    """
    reason = reason.strip()
    if not reason and reason_required(action, len(objects)):
        raise ValidationError(f"A reason is required to {Kind(action).label.lower()}.")
    content_type = ContentType.objects.get_for_model(type(objects[0])) if objects else None
    record = StaffAction.objects.create(
        user=user,
        username=user.get_username(),
        action=action,
        content_type=content_type,
        object_ids=[str(obj.pk) for obj in objects],
        count=len(objects),
        outcome=outcome[:300],
        reason=reason,
    )
    if log_entries:  # False where Django's admin logs the rows itself
        _log_entries(record, user.pk, objects, content_type, action_flag, describe)
    return record


def _log_entries(
    record: StaffAction,
    user_id: int,  # the actor's: the record's user_id is nullable, for when the account goes
    objects: Sequence[Model],
    content_type: Any,
    action_flag: int,
    describe: Callable[[Any], str],
) -> None:
    """One LogEntry per row, so the action shows on that row's History page."""
    message = f"{record.get_action_display()}"
    if record.outcome:
        message += f": {record.outcome}"
    if record.reason:
        message += f". Reason: {record.reason}"
    LogEntry.objects.bulk_create(
        (
            LogEntry(
                user_id=user_id,
                content_type=content_type,
                object_id=str(obj.pk),
                object_repr=describe(obj)[:200],
                action_flag=action_flag,
                change_message=message,
            )
            for obj in objects
        ),
        batch_size=LOG_BATCH,
    )


_FLAG_KINDS = {ADDITION: Kind.ADMIN_ADD, CHANGE: Kind.ADMIN_CHANGE, DELETION: Kind.ADMIN_DELETE}


def staff_action_from_log_entry(entry: LogEntry) -> StaffAction:
    """Mirror one admin LogEntry (a form save or a deletion) into the staff actions list.

    The admin writes these itself for its add / change / delete pages; the entries that
    `staff_action_record` writes are bulk-created and never come here.
    """
    return StaffAction.objects.create(
        at=entry.action_time,
        user_id=entry.user_id,
        # django-stubs type LogEntry.user as a bare ForeignKey; it holds the user model.
        username=cast("AbstractBaseUser", entry.user).get_username(),
        action=_FLAG_KINDS.get(entry.action_flag, Kind.ADMIN_CHANGE),
        content_type_id=entry.content_type_id,
        object_ids=[str(entry.object_id)] if entry.object_id else [],
        count=1,
        outcome=f"{entry.object_repr}: {entry.get_change_message()}"[:300],
    )


def staff_delete_record(*, user: Any, objects: Sequence[Model]) -> StaffAction:
    """Record a "delete selected" of several rows as one staff action.

    Django's admin has already logged each row's deletion (bulk-created, so not mirrored by
    `staff_action_from_log_entry`); this adds no second LogEntry.
    """
    return staff_action_record(
        user=user,
        action=Kind.ADMIN_DELETE,
        objects=objects,
        outcome=f"{len(objects)} deleted",
        log_entries=False,
    )
