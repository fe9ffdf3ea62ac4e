"""The deliveries to PEP as staff see them: what was sent, every attempt, and the replay action.

Outbox rows are written by services and sent by workers; the admin only looks at them and calls
the replay / send-now services. Attempts, replays and circuit states are append-only here.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.html import format_html
from django.utils.text import Truncator

from events import forwarding, services
from events import subscriptions_admin as subscriptions_admin  # registers its admin
from events.models import (
    DeliveryAttempt,
    EndpointState,
    OutboxMessage,
    Replay,
    WebhookSubscription,
)
from events.outbox_state import (
    FOLLOW_SECONDS,
    OutboxChangeList,
    being_followed,
    has_previous_error,
    why_here,
)
from events.selectors import delivery_counts, open_circuits, player_heads
from events.services.redaction import PERSONAL_MESSAGE_TYPES
from pepbridge.backoffice.admin_tools import (
    AppendOnlyMixin,
    BigListMixin,
    ExactSearchMixin,
    OfferedLookupsMixin,
    ReadOnlyTabularInline,
    ReasonForm,
    change_link,
    local_time,
    may_see_personal_data,
    pretty_json,
    reason_or_confirmation,
    truncated,
)
from pepbridge.backoffice.models import REPLAY_DELIVERIES, StaffAction, has_backoffice_perm
from pepbridge.backoffice.services import reason_required, staff_action_record
from pepbridge.pep import contract

Status = OutboxMessage.Status
# Bigger selections go through `manage.py outbox_replay` (one UPDATE, no id list).
REPLAY_MAX_SELECTED = 10_000
# Read with the status column's value: a Status member is equal to its value (a str).
_STATUS_COLOURS: dict[str, str] = {
    Status.PENDING: "#b26a00",
    Status.DELIVERED: "#2e7d32",
    Status.FAILED: "#c62828",
}

# Bodies that carry personal data (the erasure's list), plus CRM triggers, whose payload values
# are whatever the operator chose to send. PEP's error texts about them may echo the values.
PERSONAL_TYPES = frozenset(PERSONAL_MESSAGE_TYPES)
MASK = "***"
HIDDEN = "[hidden: may hold personal data; Support and Admins can see it]"
# Pseudonymous: the operator's id, also in the path, the list and the search.
_KEPT_KEYS = frozenset({"playerId"})
EXCERPT_CHARS = 60


def may_see_message(request: HttpRequest, message_type: str) -> bool:
    """Whether this staff member may read the body and error texts of this kind of message."""
    return message_type not in PERSONAL_TYPES or may_see_personal_data(request)


def masked(value: Any, key: str | None = None) -> Any:
    """The JSON's shape with every value but the player id masked: which fields, not what."""
    if key in _KEPT_KEYS:
        return value
    if isinstance(value, dict):
        return {name: masked(item, name) for name, item in value.items()}
    if isinstance(value, list):
        return [masked(item) for item in value]
    return None if value is None else MASK


def hidden(text: str) -> str:
    return HIDDEN if text else ""


class TargetFilter(admin.SimpleListFilter):
    """PEP or one operator webhook subscription (docs/delivery.md, "Targets")."""

    title = "target"
    parameter_name = "subscription"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        subscriptions = WebhookSubscription.objects.order_by("name").values_list("pk", "name")
        return [("pep", "PEP"), *((str(pk), name) for pk, name in subscriptions[:50])]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value == "pep":
            return queryset.filter(subscription__isnull=True)
        if value and value.isdigit():
            return queryset.filter(subscription_id=int(value))
        return queryset


class MessageTypeFilter(admin.SimpleListFilter):
    """Message types from the PEP contract: a fixed list, not a DISTINCT over the outbox."""

    title = "message type"
    parameter_name = "message_type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        types = [key for key in contract.MESSAGE_TYPES if key != "token"]
        return [(key, key) for key in [*types, forwarding.MESSAGE_TYPE]]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(message_type=self.value()) if self.value() else queryset


class ErrorFilter(admin.SimpleListFilter):
    """The last error: any, or one error class seen on a dead letter (read off a small index)."""

    title = "last error"
    parameter_name = "last_error_class"
    ANY = "__any__"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        classes = (
            OutboxMessage.objects.filter(status=Status.FAILED)
            .exclude(last_error_class="")
            .values_list("last_error_class", flat=True)
            .distinct()
            .order_by("last_error_class")
        )
        return [(self.ANY, "Any error"), *((name, name) for name in classes)]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == self.ANY:
            return queryset.exclude(last_error_class="")
        if not self.value():
            return queryset
        # `status IN (every status)` is always true (outbox_status_valid) and lets the
        # (status, last_error_class, failed_at) index serve the filter: one descent per status.
        return queryset.filter(status__in=Status.values, last_error_class=self.value())


class ReplayedFilter(admin.SimpleListFilter):
    """Rows ever replayed, whatever became of them: `trigger` only says how the last attempt
    started, and delivery resets it to "scheduled" (served by outbox_replayed_idx)."""

    title = "replayed"
    parameter_name = "replayed"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Replayed at least once"), ("no", "Never replayed")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() in ("yes", "no"):
            return queryset.filter(replayed_at__isnull=self.value() == "no")
        return queryset


class AttemptInline(ReadOnlyTabularInline):
    model = DeliveryAttempt
    fields = (
        "started_at",
        "outcome",
        "status_code",
        "error_class",
        "error_excerpt",
        "duration_ms",
        "trigger",
        "worker",
    )
    readonly_fields = (*fields, "error_excerpt_hidden")
    ordering = ("-started_at",)
    verbose_name_plural = "attempts (newest first)"

    def get_fields(self, request: HttpRequest, obj: OutboxMessage | None = None) -> Any:
        # obj is the message the attempts belong to.
        if obj is None or may_see_message(request, obj.message_type):
            return self.fields
        return tuple("error_excerpt_hidden" if f == "error_excerpt" else f for f in self.fields)

    @admin.display(description="error excerpt")
    def error_excerpt_hidden(self, obj: DeliveryAttempt) -> str:
        return hidden(obj.error_excerpt)


@admin.register(OutboxMessage)
class OutboxMessageAdmin(OfferedLookupsMixin, ExactSearchMixin, BigListMixin, admin.ModelAdmin):
    # Fits 1,400 px: the state sentence (it names the status, in the status's colour) replaces
    # the status, attempts, next attempt, delivered and trigger columns; the error is one
    # truncated cell (full text on the message page).
    list_display = (
        "id",
        "type_and_target",
        "player_id",
        "created_at",
        "state",
        "error_short",
    )
    list_select_related = ("subscription",)
    # Each filter has an index (events.models, migration 0005; docs/back-office.md).
    list_filter = (
        "status",
        TargetFilter,
        MessageTypeFilter,
        ErrorFilter,
        ReplayedFilter,
        "trigger",
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = ("=player_id",)
    search_help_text = "Exact player id (catalogue messages: bonus-offer:<bonus id>)."
    # The primary key follows creation order and is always indexed, filtered or not.
    ordering = ("-id",)
    actions = ("replay_selected", "send_selected_now")
    inlines = (AttemptInline,)
    fieldsets = (
        ("Where it is", {"fields": ("state",)}),
        (
            "Request",
            {
                "fields": (
                    "message_type",
                    "target",
                    "method",
                    "path",
                    "payload",
                    "player_id",
                    "occurred_at",
                    "created_at",
                    "dedup_key",
                    "fingerprint",
                )
            },
        ),
        (
            "Delivery",
            {
                "fields": (
                    "status",
                    "trigger",
                    "attempts",
                    "retry_step",
                    "next_attempt_at",
                    "first_failed_at",
                    "lease_expires_at",
                    "claimed_by",
                    "delivered_at",
                    "failed_at",
                )
            },
        ),
        ("Replay", {"fields": ("replayed_at", "replayed_by", "replay_count")}),
        ("Last error", {"fields": ("last_status_code", "last_error_class", "last_error")}),
    )
    readonly_fields = (
        "target",
        "state",
        "payload",
        "payload_masked",
        "fingerprint_hidden",
        "last_error_hidden",
    )
    # Only meaningful while a row waits to be sent: a dead letter has no "next attempt".
    _PENDING_ONLY = frozenset({"next_attempt_at", "retry_step", "lease_expires_at", "claimed_by"})
    # What a staff member without personal-data access sees instead, on personal messages.
    _STAND_INS = {
        "payload": "payload_masked",
        # A hash of a short body can be guessed back (events.services.redaction).
        "fingerprint": "fingerprint_hidden",
        "last_error": "last_error_hidden",
    }

    def get_fieldsets(self, request: HttpRequest, obj: OutboxMessage | None = None) -> Any:
        if obj is None:
            return self.fieldsets
        stand_ins = {} if may_see_message(request, obj.message_type) else self._STAND_INS
        hidden_fields = self._PENDING_ONLY if obj.status != Status.PENDING else frozenset()
        if not obj.replayed_at:
            hidden_fields |= {"replayed_at", "replayed_by", "replay_count"}
        sets = []
        for name, options in self.fieldsets:
            fields = tuple(
                # A name; a row of names (none on this page) would stay as it is.
                stand_ins.get(f, f) if isinstance(f, str) else f
                for f in options["fields"]
                if f not in hidden_fields
            )
            if fields:
                sets.append((self._error_title(obj) if name == "Last error" else name, fields))
        return [(name, {"fields": fields}) for name, fields in sets]

    @staticmethod
    def _error_title(obj: OutboxMessage) -> str:
        """'Previous error' while a replayed row has not been tried since its replay."""
        if has_previous_error(obj):
            return f"Previous error (before the replay at {local_time(obj.replayed_at)})"
        return "Last error"

    @admin.display(description="target")
    def target(self, obj: OutboxMessage) -> str:
        return "PEP" if obj.subscription is None else f"webhook: {obj.subscription.name}"

    @admin.display(description="message type", ordering="message_type")
    def type_and_target(self, obj: OutboxMessage) -> str:
        """The message type for PEP; the subscription for a forwarded row (the list has no room
        for a target column at 1,400 px)."""
        if obj.subscription is None:
            return obj.message_type
        return f"webhook: {Truncator(obj.subscription.name).chars(24)}"

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return OutboxChangeList

    def get_urls(self) -> list[URLPattern]:
        act = self.admin_site.admin_view(self.act_view)
        own = [path("<int:pk>/act/<str:verb>/", act, name="events_outboxmessage_act")]
        return own + super().get_urls()

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        row = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if row is not None:
            context["message_buttons"] = self._buttons(request, row)
            context["refresh_seconds"] = FOLLOW_SECONDS if being_followed(row) else None
        return super().change_view(request, object_id, form_url, context)

    def _buttons(self, request: HttpRequest, row: OutboxMessage) -> list[tuple[str, str]]:
        """(verb, label) of the buttons this staff member may press on this row now."""
        if not self.has_replay_permission(request) or row.is_in_flight():
            return []
        if row.status == Status.FAILED:
            return [("replay", "Replay"), ("cancel", "Cancel…")]
        if row.status == Status.PENDING:
            return [("send-now", "Send now"), ("cancel", "Cancel…")]
        return []

    def act_view(self, request: HttpRequest, pk: int, verb: str) -> HttpResponse:
        """A message page's own buttons: replay, send now (POST), cancel (asks why first)."""
        if not self.has_replay_permission(request):
            raise PermissionDenied
        row = get_object_or_404(OutboxMessage, pk=pk)
        if verb not in dict(self._buttons(request, row)):
            self.message_user(
                request, f"#{pk} cannot be {verb} now: {why_here(row)}.", messages.WARNING
            )
            return redirect("admin:events_outboxmessage_change", pk)
        if verb == "cancel":
            form = ReasonForm(request.POST if request.method == "POST" else None)
            if not form.is_valid():
                return self._cancel_page(request, row, form)
            self.cancel(request, row, form.cleaned_data["reason"])
        elif request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        elif verb == "replay":
            count = self.replay(request, [row.pk])
            self.message_user(request, f"{count} message queued for replay.", messages.SUCCESS)
        else:
            count = self.send_now(request, [row.pk])
            self.message_user(request, f"{count} message made due now.", messages.SUCCESS)
        return redirect("admin:events_outboxmessage_change", pk)

    def _cancel_page(self, request: HttpRequest, row: OutboxMessage, form: Any) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": "Cancel this message (it will never be sent)",
            "opts": self.opts,
            "form": form,
            "count": 1,
            "examples": [row],
        }
        return TemplateResponse(request, "admin/backoffice/confirm_action.html", context)

    @transaction.atomic
    def cancel(self, request: HttpRequest, row: OutboxMessage, reason: str) -> None:
        actor = request.user.get_username()
        count = services.outbox_cancel(message_ids=[row.pk], actor=actor, reason=reason)
        staff_action_record(
            user=request.user,
            action=StaffAction.Kind.CANCEL_MESSAGE,
            objects=[row],
            outcome=f"{count} cancelled",
            reason=reason,
        )
        self.message_user(request, f"{count} message cancelled.", messages.SUCCESS)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The bytes are what PEP receives on every attempt: never edited by hand.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return has_backoffice_perm(request.user, REPLAY_DELIVERIES)

    @admin.display(description="where it is and why", ordering="status")
    def state(self, obj: OutboxMessage) -> str:
        # The list sets `_why` for a whole page at once (OutboxChangeList); a page shows one.
        why = getattr(obj, "_why", None)
        if why is None:
            why = why_here(obj, player_heads([obj]).get(obj.pk), open_circuits())
        colour = _STATUS_COLOURS.get(obj.status, "inherit")
        return format_html('<span style="color:{}">{}</span>', colour, why)

    @admin.display(description="last error")
    def error_short(self, obj: OutboxMessage) -> str:
        if not obj.last_error_class:
            return ""
        code = f" ({obj.last_status_code})" if obj.last_status_code else ""
        text = f"{obj.last_error_class}{code}"
        if getattr(obj, "_previous_error", False):
            text = f"previous: {text}"
        return truncated(text, 40)

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: OutboxMessage) -> str:
        colour = _STATUS_COLOURS.get(obj.status, "inherit")
        return format_html('<strong style="color:{}">{}</strong>', colour, obj.get_status_display())

    @admin.display(description="payload (as sent, indented for reading)")
    def payload(self, obj: OutboxMessage) -> str:
        return "(no body)" if obj.body is None else pretty_json(obj.body)

    @admin.display(description="payload (values hidden: personal data)")
    def payload_masked(self, obj: OutboxMessage) -> str:
        if obj.body is None:
            return "(no body)"
        try:
            return pretty_json(masked(json.loads(obj.body)))
        except ValueError:
            return HIDDEN

    @admin.display(description="fingerprint")
    def fingerprint_hidden(self, obj: OutboxMessage) -> str:
        return hidden(obj.fingerprint)

    @admin.display(description="last error")
    def last_error_hidden(self, obj: OutboxMessage) -> str:
        return hidden(obj.last_error)

    @admin.action(description="Replay selected failed messages", permissions=["replay"])
    def replay_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        failed = queryset.filter(status=Status.FAILED)
        ids = list(failed.values_list("id", flat=True)[: REPLAY_MAX_SELECTED + 1])
        if len(ids) > REPLAY_MAX_SELECTED:
            self.message_user(
                request,
                f"More than {REPLAY_MAX_SELECTED} failed messages selected: nothing replayed. "
                "Narrow the filter, or use `manage.py outbox_replay` for a bulk replay.",
                messages.ERROR,
            )
            return None
        reason = ""
        if reason_required(StaffAction.Kind.REPLAY, len(ids)):
            asked = reason_or_confirmation(self, request, failed, title="Replay failed messages")
            if not isinstance(asked, str):
                return asked
            reason = asked
        count = self.replay(request, ids, reason)
        self.message_user(
            request, f"{count} failed message(s) queued for replay.", messages.SUCCESS
        )
        skipped = queryset.count() - len(ids)
        if skipped > 0:
            self.message_user(
                request,
                f"{skipped} selected message(s) were not failed and were left as they were.",
                messages.WARNING,
            )
        return None

    @admin.action(description="Send selected pending messages now", permissions=["replay"])
    def send_selected_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        ids = list(
            queryset.filter(status=Status.PENDING).values_list("id", flat=True)[
                :REPLAY_MAX_SELECTED
            ]
        )
        count = self.send_now(request, ids)
        self.message_user(request, f"{count} pending message(s) made due now.", messages.SUCCESS)

    @transaction.atomic
    def replay(self, request: HttpRequest, ids: list[int], reason: str = "") -> int:
        """Re-arm these dead letters and record who did it (one transaction)."""
        count = services.replay_failed(actor=request.user.get_username(), message_ids=ids)
        staff_action_record(
            user=request.user,
            action=StaffAction.Kind.REPLAY,
            objects=list(
                OutboxMessage.objects.filter(id__in=ids).only("id", "message_type", "status")
            ),
            outcome=f"{count} re-armed",
            reason=reason,
        )
        return count

    @transaction.atomic
    def send_now(self, request: HttpRequest, ids: list[int]) -> int:
        """Make these pending rows due at once and record who did it (one transaction)."""
        count = services.send_now(message_ids=ids) if ids else 0
        staff_action_record(
            user=request.user,
            action=StaffAction.Kind.SEND_NOW,
            objects=list(
                OutboxMessage.objects.filter(id__in=ids).only("id", "message_type", "status")
            ),
            outcome=f"{count} made due now",
        )
        return count

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        counts = delivery_counts()
        return super().changelist_view(request, {**(extra_context or {}), "outbox_counts": counts})


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(
    OfferedLookupsMixin, ExactSearchMixin, AppendOnlyMixin, BigListMixin, admin.ModelAdmin
):
    # Fits 1,400 px: status code inside the outcome, error class and excerpt in one truncated
    # cell; trigger and worker on the attempt's page.
    list_display = ("started_at", "message_link", "outcome_code", "error_short", "duration_ms")
    list_select_related = ("message",)
    # Each filter has an index (docs/back-office.md). No `trigger` filter: the outbox list's
    # "replayed" filter and the staff actions list answer "which messages were replayed or sent
    # by hand" without one more index on this table.
    list_filter = ("outcome", ("started_at", admin.DateFieldListFilter))
    search_fields = ("=message__player_id",)
    search_help_text = "Exact player id of the message."
    ordering = ("-id",)

    fields = (
        "message",
        "started_at",
        "duration_ms",
        "outcome",
        "status_code",
        "error_class",
        "error_excerpt",
        "trigger",
        "worker",
    )
    readonly_fields = ("error_excerpt_hidden",)

    def get_fields(self, request: HttpRequest, obj: DeliveryAttempt | None = None) -> Any:
        if obj is None or may_see_message(request, obj.message.message_type):
            return self.fields
        return tuple("error_excerpt_hidden" if f == "error_excerpt" else f for f in self.fields)

    def get_list_display(self, request: HttpRequest) -> Any:
        if may_see_personal_data(request):
            return self.list_display
        return tuple(
            "error_excerpt_checked" if f == "error_short" else f for f in self.list_display
        )

    @admin.display(description="message")
    def message_link(self, obj: DeliveryAttempt) -> str:
        return change_link(obj.message, f"#{obj.message_id} {obj.message.message_type}")

    @admin.display(description="outcome", ordering="outcome")
    def outcome_code(self, obj: DeliveryAttempt) -> str:
        code = f" ({obj.status_code})" if obj.status_code else ""
        return f"{obj.get_outcome_display()}{code}"

    @admin.display(description="error")
    def error_short(self, obj: DeliveryAttempt) -> str:
        text = " ".join(part for part in (obj.error_class, obj.error_excerpt) if part)
        return truncated(text, EXCERPT_CHARS)

    @admin.display(description="error")
    def error_excerpt_checked(self, obj: DeliveryAttempt) -> str:
        # Decided per row from the message type, read through list_select_related.
        if obj.message.message_type in PERSONAL_TYPES and obj.error_excerpt:
            return f"{obj.error_class} {hidden(obj.error_excerpt)}".strip()
        return self.error_short(obj)

    @admin.display(description="error excerpt")
    def error_excerpt_hidden(self, obj: DeliveryAttempt) -> str:
        return hidden(obj.error_excerpt)


@admin.register(Replay)
class ReplayAdmin(ExactSearchMixin, AppendOnlyMixin, admin.ModelAdmin):
    list_display = ("created_at", "actor", "count", "filter")
    search_fields = ("=actor",)
    ordering = ("-created_at",)


@admin.register(EndpointState)
class EndpointStateAdmin(AppendOnlyMixin, admin.ModelAdmin):
    list_display = (
        "message_type",
        "circuit",
        "retry_at",
        "opened_at",
        "window_requests",
        "window_failures",
        "consecutive_opens",
    )
    list_filter = ("circuit",)
    ordering = ("message_type",)
