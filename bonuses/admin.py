"""The bonus catalogue and PEP's assign-bonus traffic as staff see them.

Catalogue writes go through bonuses.services (which queue the push to PEP in the same
transaction); what PEP asked for is read-only here, and players' bonuses are never edited by
hand: they move along their lifecycle only through the cancel and forfeit actions (the same
transition service the rest of the bridge uses), for staff with `manage_playerbonus`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html, format_html_join

from bonuses import selectors, services
from bonuses.models import (
    AssignmentConflict,
    AssignmentItem,
    Bonus,
    BonusAssignment,
    DailyGrantBudget,
    PlayerBonus,
    RejectedAssignment,
)
from events.messages.bonuses import ordering_key
from events.models import OutboxMessage
from pepbridge.backoffice.admin_tools import (
    AppendOnlyMixin,
    BigListMixin,
    CallerNamesChangeList,
    ExactSearchMixin,
    OfferedLookupsMixin,
    ReadOnlyTabularInline,
    bonus_value,
    caller_cell,
    change_link,
    changelist_url,
    local_time,
    pretty_json,
    reason_or_confirmation,
)
from pepbridge.backoffice.models import StaffAction
from pepbridge.backoffice.services import staff_action_record
from players.admin import PlayerSection, add_player_section
from players.models import Player

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

RECENT_MESSAGES = 10
Kind = StaffAction.Kind


class RetiredFilter(admin.SimpleListFilter):
    title = "retired"
    parameter_name = "retired"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("no", "In the catalogue"), ("yes", "Retired")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() in ("yes", "no"):
            return queryset.filter(retired_at__isnull=self.value() == "no")
        return queryset


@admin.register(Bonus)
class BonusAdmin(admin.ModelAdmin):
    list_display = (
        "bonus_id",
        "name",
        "bonus_type",
        "value",
        "is_active",
        "retired_at",
        "updated_at",
    )
    list_filter = ("bonus_type", "is_active", RetiredFilter)
    search_fields = ("bonus_id", "name")
    ordering = ("bonus_id",)
    actions = ("retire_selected", "push_selected")
    readonly_fields = ("retired_at", "created_at", "updated_at", "pep_messages")
    fieldsets = (
        (None, {"fields": ("bonus_id", "name", "description", "bonus_type")}),
        (
            "Value",
            {
                "fields": ("amount", "percentage", "currency", "wagering_requirement"),
                "description": "Give either an amount or a percentage, not both.",
            },
        ),
        (
            "Limits",
            {
                "fields": (
                    "amount_override_allowed",
                    "min_amount_per_grant",
                    "max_amount_per_grant",
                    "daily_cap_per_player",
                    "daily_cap",
                ),
                "description": "Checked by every grant, in the grant's transaction; a grant "
                "over a limit is refused and the refusal reason shows on the request's "
                "players. Empty means no limit. The instance-wide budget per currency is "
                "under Bonuses > Daily grant budgets.",
            },
        ),
        (
            "Availability",
            {
                "fields": (
                    "is_active",
                    "valid_from",
                    "valid_to",
                    "expires_after_days",
                    "max_grants_per_player",
                )
            },
        ),
        ("Push to PEP", {"fields": ("pep_messages",)}),
        ("History", {"fields": ("retired_at", "created_at", "updated_at")}),
    )

    @admin.display(description="value")
    def value(self, obj: Bonus) -> str:
        if obj.percentage is not None:
            return f"{obj.percentage:f}".rstrip("0").rstrip(".") + " %"
        return bonus_value(obj.bonus_type, obj.amount, obj.currency)

    def get_readonly_fields(self, request: HttpRequest, obj: Bonus | None = None) -> Any:
        if obj is None:
            return self.readonly_fields
        if obj.retired_at is not None:  # retired: nothing changes any more
            return [field.name for field in Bonus._meta.fields] + ["pep_messages"]
        return ("bonus_id", *self.readonly_fields)  # PEP's key for the offer never changes

    def has_delete_permission(self, request: HttpRequest, obj: Bonus | None = None) -> bool:
        return False  # retire instead: granted bonuses keep pointing at the row

    def save_model(self, request: HttpRequest, obj: Bonus, form: ModelForm, change: bool) -> None:
        """Save through the services, so PEP is told about the change in the same transaction."""
        if change:
            changes = {name: form.cleaned_data[name] for name in form.changed_data}
            saved = services.bonus_update(bonus=obj, **changes)
        else:
            fields = {k: v for k, v in form.cleaned_data.items() if k != "bonus_id"}
            saved = services.bonus_create(bonus_id=form.cleaned_data["bonus_id"], **fields)
        obj.pk, obj.updated_at, obj.created_at = saved.pk, saved.updated_at, saved.created_at
        obj._state.adding = False

    @admin.action(
        description="Retire selected bonuses (PEP deletes the offer)", permissions=["change"]
    )
    @transaction.atomic
    def retire_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        live = list(queryset.filter(retired_at__isnull=True))
        for bonus in live:
            services.bonus_retire(bonus=bonus)
        staff_action_record(
            user=request.user, action=Kind.BONUS_RETIRE, objects=live, outcome="retired"
        )
        self.message_user(
            request, f"{len(live)} bonus(es) retired; PEP will be told.", messages.SUCCESS
        )

    @admin.action(description="Push selected bonuses to PEP again", permissions=["change"])
    @transaction.atomic
    def push_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        live = list(queryset.filter(retired_at__isnull=True))
        for bonus in live:
            services.bonus_update(bonus=bonus)
        staff_action_record(
            user=request.user, action=Kind.BONUS_PUSH, objects=live, outcome="queued for PEP"
        )
        self.message_user(request, f"{len(live)} bonus(es) queued for PEP.", messages.SUCCESS)

    @admin.display(description="messages to PEP (newest first)")
    def pep_messages(self, obj: Bonus) -> str:
        if obj.pk is None:
            return "Saved bonuses are pushed to PEP automatically."
        key = ordering_key(obj.bonus_id)
        rows = OutboxMessage.objects.filter(player_id=key).order_by("-created_at")[:RECENT_MESSAGES]
        items = format_html_join(
            "",
            "<li>{} — {}</li>",
            (
                (change_link(row, f"#{row.pk} {row.message_type}"), row.get_status_display())
                for row in rows
            ),
        )
        url = changelist_url("events", "outboxmessage", player_id=key)
        return format_html('<ul>{}</ul><a href="{}">All messages about this bonus</a>', items, url)


@admin.register(PlayerBonus)
class PlayerBonusAdmin(
    OfferedLookupsMixin, ExactSearchMixin, AppendOnlyMixin, BigListMixin, admin.ModelAdmin
):
    list_display = (
        "id",
        "player_code",
        "bonus_code",
        "value",
        "status",
        "granted_at",
        "expires_at",
        "source_request_id",
    )
    list_select_related = ("player", "bonus")
    list_filter = ("status", ("granted_at", admin.DateFieldListFilter))
    search_fields = ("=player__player_id", "=bonus__bonus_id", "=source_request_id")
    search_help_text = "Exact player id, bonus id or PEP requestId."
    ordering = ("-id",)
    raw_id_fields = ("player", "bonus")
    actions = ("cancel_selected", "forfeit_selected")

    @admin.display(description="player", ordering="player__player_id")
    def player_code(self, obj: PlayerBonus) -> str:
        return obj.player.player_id

    @admin.display(description="bonus", ordering="bonus__bonus_id")
    def bonus_code(self, obj: PlayerBonus) -> str:
        return obj.bonus.bonus_id

    @admin.display(description="value")
    def value(self, obj: PlayerBonus) -> str:
        return bonus_value(obj.bonus.bonus_type, obj.amount, obj.currency)

    @staticmethod
    def describe(obj: PlayerBonus) -> str:
        """'CASH10 — 10 EUR for p-1 (granted)': names, not ids (confirmation page, history)."""
        value = bonus_value(obj.bonus.bonus_type, obj.amount, obj.currency)
        return f"{obj.bonus.bonus_id} — {value} for {obj.player.player_id} ({obj.status})"

    def has_manage_permission(self, request: HttpRequest) -> bool:
        """Who may end a player's bonus by hand: bonus managers and admins."""
        return request.user.has_perm("bonuses.manage_playerbonus")

    @admin.action(description="Cancel selected player bonuses", permissions=["manage"])
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._transition_selected(request, queryset, PlayerBonus.Status.CANCELLED)

    @admin.action(description="Forfeit selected player bonuses", permissions=["manage"])
    def forfeit_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return self._transition_selected(request, queryset, PlayerBonus.Status.FORFEITED)

    def _transition_selected(
        self, request: HttpRequest, queryset: QuerySet, status: str
    ) -> HttpResponse | None:
        """Ask why on a confirmation page, then end the bonuses and record who did it."""
        kind = _TRANSITION_KINDS[status]
        reason = reason_or_confirmation(self, request, queryset, title=kind.label)
        if not isinstance(reason, str):
            return reason
        done = PlayerBonus.Status(status).label.lower()
        with transaction.atomic():
            rows = list(queryset.select_related("player", "bonus").order_by("pk"))
            report = services.player_bonuses_transition(player_bonuses=iter(rows), status=status)
            outcome = f"{report.changed} {done}, {report.refused} refused"
            staff_action_record(
                user=request.user,
                action=kind,
                objects=rows,
                outcome=outcome,
                reason=reason,
                describe=self.describe,
            )
        text = f"{report.changed} player bonus(es) {done}."
        if report.refused:
            text += (
                f" {report.refused} could not be {done}: already ended, or their status "
                "does not allow it."
            )
        level = messages.WARNING if report.refused else messages.SUCCESS
        self.message_user(request, text, level)
        return None


_TRANSITION_KINDS: dict[str, Kind] = {
    PlayerBonus.Status.CANCELLED: Kind.CANCEL_PLAYER_BONUS,
    PlayerBonus.Status.FORFEITED: Kind.FORFEIT_PLAYER_BONUS,
}


class ItemInline(ReadOnlyTabularInline):
    model = AssignmentItem
    fields = ("player_id", "outcome", "reason", "player_bonus", "decided_at")
    readonly_fields = fields


class ConflictInline(ReadOnlyTabularInline):
    model = AssignmentConflict
    fields = ("attempts", "first_seen_at", "last_seen_at", "conflicting_body")
    readonly_fields = fields
    verbose_name_plural = "conflicting copies (same requestId, other body: answered 409)"

    @admin.display(description="body")
    def conflicting_body(self, obj: AssignmentConflict) -> str:
        return pretty_json(obj.body)


class _ItemCounts(TypedDict):
    """What BonusAssignmentAdmin.get_queryset annotates each row with."""

    granted_n: int
    refused_n: int


def _item_count(outcome: str) -> Any:
    items = (
        AssignmentItem.objects.filter(assignment=OuterRef("pk"), outcome=outcome)
        .values("assignment")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Coalesce(Subquery(items), 0)


@admin.register(BonusAssignment)
class BonusAssignmentAdmin(
    OfferedLookupsMixin, ExactSearchMixin, AppendOnlyMixin, BigListMixin, admin.ModelAdmin
):
    list_display = (
        "request_id",
        "caller",
        "bonus",
        "status",
        "granted",
        "refused",
        "duplicate_count",
        "received_at",
        "processed_at",
    )
    list_select_related = ("bonus",)
    list_filter = ("status", ("received_at", admin.DateFieldListFilter))
    search_fields = ("=request_id", "=bonus__bonus_id")
    search_help_text = "Exact PEP requestId or bonus id."
    ordering = ("-id",)
    inlines = (ItemInline, ConflictInline)
    actions = ("retry_failed",)
    fields = (
        "request_id",
        "sender",
        "caller",
        "bonus",
        "status",
        "failure_reason",
        "event_date",
        "amount",
        "currency",
        "source",
        "received_at",
        "processed_at",
        "duplicate_count",
        "request_body",
    )
    readonly_fields = ("request_body", "caller")

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return CallerNamesChangeList

    @admin.display(description="from", ordering="client_key")
    def caller(self, obj: BonusAssignment) -> str:
        return caller_cell(obj)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # Per-row counts as correlated subqueries: computed for the page's rows only.
        return (
            super()
            .get_queryset(request)
            .annotate(
                granted_n=_item_count(AssignmentItem.Outcome.GRANTED),
                refused_n=_item_count(AssignmentItem.Outcome.REFUSED),
            )
        )

    @admin.display(description="granted", ordering="granted_n")
    def granted(self, obj: WithAnnotations[BonusAssignment, _ItemCounts]) -> int:
        return obj.granted_n

    @admin.display(description="refused", ordering="refused_n")
    def refused(self, obj: WithAnnotations[BonusAssignment, _ItemCounts]) -> int:
        return obj.refused_n

    @admin.display(description="request body")
    def request_body(self, obj: BonusAssignment) -> str:
        return pretty_json(obj.body)

    def has_manage_permission(self, request: HttpRequest) -> bool:
        """Retrying a failed request grants bonuses: bonus managers and admins."""
        return request.user.has_perm("bonuses.manage_playerbonus")

    @admin.action(description="Retry selected failed requests", permissions=["manage"])
    def retry_failed(self, request: HttpRequest, queryset: QuerySet) -> None:
        failed = list(queryset.filter(status=BonusAssignment.Status.FAILED).select_related(None))
        retried = services.assignments_retry(
            assignment_ids=[row.pk for row in failed], actor_id=request.user.pk
        )
        for row in failed:  # who retried what, in the admin history
            self.log_change(request, row, "Retried a failed request.")
        self.message_user(
            request,
            f"{retried} failed request(s) queued again; the sweep grants them within minutes.",
            messages.SUCCESS if retried else messages.WARNING,
        )

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.fields


@admin.register(RejectedAssignment)
class RejectedAssignmentAdmin(
    OfferedLookupsMixin, ExactSearchMixin, AppendOnlyMixin, BigListMixin, admin.ModelAdmin
):
    list_display = (
        "request_id",
        "caller",
        "reason",
        "attempts",
        "first_seen_at",
        "last_seen_at",
    )
    list_filter = (("last_seen_at", admin.DateFieldListFilter),)
    search_fields = ("=request_id",)
    search_help_text = "Exact PEP requestId."
    ordering = ("-id",)
    fields = (
        "request_id",
        "sender",
        "caller",
        "attempts",
        "first_seen_at",
        "last_seen_at",
        "reason",
        "request_body",
    )
    readonly_fields = ("reason", "request_body", "caller")

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return CallerNamesChangeList

    @admin.display(description="from", ordering="client_key")
    def caller(self, obj: RejectedAssignment) -> str:
        return caller_cell(obj)

    @admin.display(description="why it was rejected")
    def reason(self, obj: RejectedAssignment) -> str:
        errors = obj.errors if isinstance(obj.errors, dict) else {"": obj.errors}
        return "; ".join(
            f"{field}: {', '.join(map(str, msgs)) if isinstance(msgs, list) else msgs}"
            for field, msgs in errors.items()
        )

    @admin.display(description="request body")
    def request_body(self, obj: RejectedAssignment) -> str:
        return pretty_json(obj.body)


@admin.register(DailyGrantBudget)
class DailyGrantBudgetAdmin(admin.ModelAdmin):
    """The instance-wide budget per currency; saved through `daily_budget_set` (records who)."""

    list_display = ("currency", "daily_limit", "granted_today", "changed_by", "changed_at")
    list_select_related = ("changed_by",)
    ordering = ("currency",)
    fields = ("currency", "daily_limit", "granted_today", "changed_by", "changed_at")
    readonly_fields = ("granted_today", "changed_by", "changed_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("currency", *self.readonly_fields) if obj is not None else self.readonly_fields

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # lift a budget by raising it: every change keeps who made it

    def save_model(
        self, request: HttpRequest, obj: DailyGrantBudget, form: ModelForm, change: bool
    ) -> None:
        user = request.user
        if not user.is_authenticated:  # never so: the admin serves signed-in staff only
            raise PermissionDenied
        saved = services.daily_budget_set(
            currency=obj.currency, daily_limit=obj.daily_limit, actor=user
        )
        obj.pk, obj.changed_by, obj.changed_at = saved.pk, saved.changed_by, saved.changed_at
        obj._state.adding = False

    @admin.display(description="granted today")
    def granted_today(self, obj: DailyGrantBudget) -> Any:
        if obj.pk is None:
            return "-"
        return selectors.granted_today(currency=obj.currency)


# The player's page (players.admin) shows their latest bonuses: players may not import bonuses.
RECENT_BONUSES = 10


def bonus_summary(row: PlayerBonus) -> str:
    """'CASH10 — 10 EUR, granted 18:33:09 CET', linked to the player bonus."""
    value = bonus_value(row.bonus.bonus_type, row.amount, row.currency)
    return change_link(row, f"{row.bonus.bonus_id} — {value}, granted {local_time(row.granted_at)}")


@admin.display(description="bonuses (newest first)")
def bonus_list(obj: Player) -> str:
    rows = obj.bonuses.select_related("bonus").order_by("-granted_at", "-id")[:RECENT_BONUSES]
    if not rows:
        return "No bonuses."
    items = format_html_join(
        "", "<li>{} — {}</li>", ((bonus_summary(row), row.get_status_display()) for row in rows)
    )
    url = changelist_url("bonuses", "playerbonus", q=obj.player_id)
    return format_html('<ul>{}</ul><a href="{}">All bonuses of this player</a>', items, url)


add_player_section(PlayerSection("Bonuses", bonus_list, after="Status"))
