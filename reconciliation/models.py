"""Reconciliation: the append-only audit trail, and the mutable repair state kept beside it.

The trail is three tables that only ever grow: `ReconciliationRequest` (each request as
received, valid or not), `ReconciliationItem` (one player field PEP misses) and `AuditStep`
(everything that happened, with its time and cause). No row of these is ever updated or
deleted by the application: save() of an existing row, delete() and QuerySet.update()/delete()
raise `AppendOnlyError`, the admin grants no add/change/delete permission, and on PostgreSQL a
trigger (migration 0002) refuses UPDATE and DELETE in SQL too.

What changes (an item's current status, a download's retry schedule) lives in `RepairState`
and `FeedbackDownload`, which are working state, not audit: every change to them is also
written to the trail as an `AuditStep`.

`RequestExpansion` is working state too: how far the items of a large request have been opened.

Personal data: the trail holds player ids and PEP's field names, never a value sent to PEP.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from django.db.models import Q
from django.utils import timezone


class AppendOnlyError(Exception):
    """An update or delete of an audit record was attempted: the trail only ever grows."""


class AppendOnlyQuerySet(models.QuerySet):
    """A QuerySet that can insert and read, and refuses to change or remove rows."""

    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError(f"{self.model.__name__} is append-only: update() is refused")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError(f"{self.model.__name__} is append-only: delete() is refused")

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> int:
        raise AppendOnlyError(f"{self.model.__name__} is append-only: bulk_update() is refused")


class AppendOnlyModel(models.Model):
    """Base of the audit models: a row is written once and never changed or deleted."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError(f"{type(self).__name__} #{self.pk} is append-only: not saved")
        kwargs["force_insert"] = True  # never fall back to an UPDATE of a row with this pk
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError(f"{type(self).__name__} #{self.pk} is append-only: not deleted")


class ReconciliationRequest(AppendOnlyModel):
    """One request as received: from PEP's reconciliation endpoint or migration feedback, or a
    staff re-sync. Malformed and repeated requests are recorded too, with their outcome."""

    class Source(models.TextChoices):
        API = "reconciliation_api", "PEP reconciliation request"
        FEEDBACK = "migration_feedback", "PEP migration feedback"
        RESYNC = "staff_resync", "Staff re-sync"

    class Outcome(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        DUPLICATE = "duplicate", "Repeat of an accepted request"
        CONFLICT = "conflict", "requestId reused with another body"
        REJECTED = "rejected", "Rejected as malformed"

    source = models.CharField(max_length=32, choices=Source.choices)
    request_id = models.CharField(max_length=200, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    event_date = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    # Who caused it: "pep:<client>", "staff:<username>", "task:<name>".
    cause = models.CharField(max_length=200)
    # The body as received (JSON), or {"raw": "<text>"} when it was not JSON.
    payload = models.JSONField(default=dict, blank=True)
    fingerprint = models.CharField(max_length=64, blank=True)
    errors = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = "reconciliation request"
        constraints = [
            # Idempotency: one accepted request per requestId and source (style practice 6).
            models.UniqueConstraint(
                fields=["source", "request_id"],
                condition=Q(outcome="accepted") & ~Q(request_id=""),
                name="recon_request_id_once",
            ),
        ]
        indexes = [models.Index(fields=["received_at"], name="recon_request_received_idx")]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.request_id or self.pk} ({self.outcome})"


class ReconciliationItem(AppendOnlyModel):
    """One field of one player that PEP reported missing or invalid, in one request."""

    request = models.ForeignKey(
        ReconciliationRequest, on_delete=models.PROTECT, related_name="items"
    )
    player_id = models.CharField(max_length=128)
    field = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "reconciliation item"
        constraints = [
            models.UniqueConstraint(
                fields=["request", "player_id", "field"], name="recon_item_once_per_request"
            ),
        ]
        indexes = [
            # Admin and "everything about one player" questions.
            models.Index(fields=["player_id", "created_at"], name="recon_item_player_idx"),
            # The admin's "field" filter, newest first.
            models.Index(fields=["field", "id"], name="recon_item_field_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.player_id}.{self.field} (request {self.request_id})"


class AuditStep(AppendOnlyModel):
    """One thing that happened to a request or an item, when, and because of whom.

    `player_id` and `field` repeat the item's so the export reads one table in time order.
    """

    class Kind(models.TextChoices):
        RECEIVED = "received", "Received"
        DUPLICATE = "duplicate", "Repeat received"
        CONFLICT = "conflict", "Conflicting repeat received"
        REJECTED = "rejected", "Rejected as malformed"
        DETAILS_DOWNLOADED = "details_downloaded", "Feedback details downloaded"
        DETAILS_FAILED = "details_failed", "Feedback details download failed"
        UNKNOWN_PLAYER = "unknown_player", "Unknown player"
        WAITING = "waiting_for_operator", "Waiting for the operator"
        VALUE_SENT = "value_sent", "Value sent to PEP"
        PEP_ACCEPTED = "pep_accepted", "PEP accepted"
        RESOLVED = "resolved", "Resolved"
        FAILED = "failed", "Failed"
        # Back to "new" for another send: the outbound message vanished, or a staff re-sync.
        REOPENED = "reopened", "Re-opened"

    request = models.ForeignKey(
        ReconciliationRequest, on_delete=models.PROTECT, related_name="steps"
    )
    item = models.ForeignKey(
        ReconciliationItem, on_delete=models.PROTECT, null=True, blank=True, related_name="steps"
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    # When it happened. Usually when the step was written; "PEP accepted" carries the time PEP
    # took the update (the outbox row's delivered_at), and its "resolved" twin, written in the
    # same transaction, the time the bridge recorded it.
    at = models.DateTimeField(default=timezone.now)
    cause = models.CharField(max_length=200)
    player_id = models.CharField(max_length=128, blank=True)
    field = models.CharField(max_length=100, blank=True)
    # Not a foreign key: delivered outbox rows are pruned, the trail must outlive them.
    outbox_message_id = models.BigIntegerField(null=True, blank=True)
    detail = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name = "audit step"
        permissions = [("export_audit", "Can export the reconciliation audit trail")]
        indexes = [
            # The export: a period, in time order.
            models.Index(fields=["at", "id"], name="recon_step_at_idx"),
            # The export for one player (a regulator's question).
            models.Index(fields=["player_id", "at", "id"], name="recon_step_player_idx"),
            # The admin's "kind" filter, newest first.
            models.Index(fields=["kind", "at", "id"], name="recon_step_kind_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} at {self.at:%Y-%m-%d %H:%M:%S}"


class RepairState(models.Model):
    """The current status of one item (working state, not audit; each change is an AuditStep)."""

    class Status(models.TextChoices):
        NEW = "new", "New"
        UNKNOWN_PLAYER = "unknown_player", "Unknown player"
        WAITING = "waiting_for_operator", "Waiting for the operator"
        SENT = "sent", "Sent, waiting for PEP"
        REPAIRED = "repaired", "Repaired"
        FAILED = "failed", "Failed"

    class Reason(models.TextChoices):
        """Why the item is in its status (blank while sent or once repaired)."""

        NO_SUCH_PLAYER = "no_such_player", "The bridge does not know the player"
        NO_VALUE = "no_value", "The bridge holds no value"
        PLAYER_ERASED = "player_erased", "The player was erased"
        UNKNOWN_FIELD = "unknown_field", "Not a profile field the bridge knows"
        INVALID_VALUE = "invalid_value", "The held value fails PEP's contract"
        PEP_REFUSED = "pep_refused", "PEP did not take the update"
        MESSAGE_CANCELLED = "message_cancelled", "Update cancelled: the player was erased"
        MESSAGE_GONE = "message_gone", "The outbound message was deleted"
        RESYNC = "resync", "Re-opened by a staff re-sync"

    # Statuses in which the item still needs a value sent.
    NEEDS_VALUE: ClassVar[tuple[str, ...]] = (
        Status.NEW,
        Status.UNKNOWN_PLAYER,
        Status.WAITING,
    )

    item = models.OneToOneField(
        ReconciliationItem, on_delete=models.PROTECT, primary_key=True, related_name="state"
    )
    player_id = models.CharField(max_length=128)
    field = models.CharField(max_length=100)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.NEW)
    reason = models.CharField(max_length=24, choices=Reason.choices, blank=True)
    outbox_message_id = models.BigIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "repair state"
        indexes = [
            # The player-change hook and the re-check: open items of one player.
            models.Index(
                fields=["player_id"],
                name="recon_state_open_player_idx",
                condition=~Q(status__in=["repaired", "failed"]),
            ),
            models.Index(fields=["status", "updated_at"], name="recon_state_status_idx"),
            # The item admin's status and reason filters, in the list's order (item, newest first).
            models.Index(fields=["status", "item"], name="recon_state_status_item_idx"),
            models.Index(fields=["reason", "item"], name="recon_state_reason_item_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.player_id}.{self.field}: {self.status}"


class FeedbackDownload(models.Model):
    """The download of one migration feedback's detailsURL, with its retry schedule."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"
        FAILED = "failed", "Gave up"

    request = models.OneToOneField(
        ReconciliationRequest, on_delete=models.PROTECT, related_name="download"
    )
    url = models.TextField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.CharField(max_length=500, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="recon_download_due_idx",
                condition=Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"details of request {self.request_id} ({self.status})"


class RequestExpansion(models.Model):
    """Opening the items of one accepted reconciliation request, after the answer, in chunks.

    Working state, not audit. The request is answered 202 once stored; a task (and, if the task
    is lost, the re-check) then opens its items `RECONCILIATION_EXPAND_CHUNK` players per
    transaction, advancing `next_player` in the same transaction, so a re-run resumes where the
    last committed chunk ended. An accepted request without a row was opened at intake (before
    this model existed).
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"

    request = models.OneToOneField(
        ReconciliationRequest, on_delete=models.PROTECT, primary_key=True, related_name="expansion"
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    # The validated [[playerId, [field, ...]], ...] of the request (its payload keeps the body as
    # received); emptied once every item is open.
    players = models.JSONField(default=list, blank=True)
    # Index into `players` of the first player not yet opened.
    next_player = models.PositiveIntegerField(default=0)
    items = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # The re-check's "expansions left unfinished".
            models.Index(
                fields=["updated_at"],
                name="recon_expansion_pending_idx",
                condition=Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"items of request {self.request_id} ({self.status}, {self.items} opened)"
