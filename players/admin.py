"""Players as staff see them: pseudonymous by default, personal data only with permission.

Player data belongs to the operator's platform and reaches the bridge through its API, so the
admin does not edit players; it shows them with everything related and can re-sync one to PEP.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from bonuses.models import PlayerBonus
from events.models import OutboxMessage
from pepbridge.backoffice.admin_tools import (
    AppendOnlyMixin,
    BigListMixin,
    ExactSearchMixin,
    OfferedLookupsMixin,
    ReadOnlyTabularInline,
    bonus_value,
    change_link,
    changelist_url,
    local_time,
    may_see_personal_data,
    tag_list,
)
from pepbridge.backoffice.models import RESYNC_PLAYER, StaffAction, has_backoffice_perm
from pepbridge.backoffice.services import staff_action_record
from players import profile, services
from players.models import MarketingConsent, MigrationChunk, MigrationRun, Player
from reconciliation.services import resync_players
from webhooks.selectors import loyalty_lines

RECENT_MESSAGES = 10
RECENT_BONUSES = 10
RESYNC_MAX_SELECTED = 100
PERSONAL = tuple(profile.PERSONAL_FIELDS)


class ErasedFilter(admin.SimpleListFilter):
    title = "erased"
    parameter_name = "erased"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("no", "Not erased"), ("yes", "Erased")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() in ("yes", "no"):
            return queryset.filter(erased_at__isnull=self.value() == "no")
        return queryset


class ConsentInline(ReadOnlyTabularInline):
    model = MarketingConsent
    fields = ("channel", "granted", "changed_at")
    readonly_fields = fields


def bonus_summary(row: PlayerBonus) -> str:
    """'CASH10 — 10 EUR, granted 18:33:09 CET', linked to the player bonus."""
    value = bonus_value(row.bonus.bonus_type, row.amount, row.currency)
    return change_link(row, f"{row.bonus.bonus_id} — {value}, granted {local_time(row.granted_at)}")


@admin.register(Player)
class PlayerAdmin(
    OfferedLookupsMixin, ExactSearchMixin, AppendOnlyMixin, BigListMixin, admin.ModelAdmin
):
    # Each filter has an index (migration 0003). No KYC filter: KYC is neither sent to PEP nor
    # a reason to refuse a bonus; the column stays in the list.
    list_filter = ("account_status", "self_excluded", "at_risk", ErasedFilter)
    ordering = ("-id",)
    actions = ("resync_selected", "resync_reconciliation")
    search_help_text = (
        "Exact player id (with personal-data access also the start of a username or e-mail, "
        "in any case: lena.mus finds LENA.MUSTER@example.com)."
    )
    inlines = (ConsentInline,)
    readonly_fields = (
        "pep_messages",
        "reconciliation_items",
        "tag_list",
        "bonus_list",
        "pep_loyalty",
    )

    def get_list_display(self, request: HttpRequest) -> tuple[str, ...]:
        # Fits 1,400 px: brand and KYC are on the player's page; the flags share one column.
        personal = ("username", "email") if may_see_personal_data(request) else ()
        return ("player_id", *personal, "country", "account_status", "flags", "created_at")

    @admin.display(description="flags")
    def flags(self, obj: Player) -> str:
        named = [("self-excluded", obj.self_excluded), ("at risk", obj.at_risk)]
        return ", ".join(name for name, on in named if on) or "-"

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        # Each is one index lookup (prefixes: players.0004), whatever the table size. Staff
        # without personal-data access may not look players up by who they are.
        if may_see_personal_data(request):
            return ("=player_id", "^username", "^email")
        return ("=player_id",)

    def get_fieldsets(
        self, request: HttpRequest, obj: Any = None
    ) -> list[tuple[str | None, dict[str, Any]]]:
        """What support looks up first (state, flags, bonuses, messages, reconciliation), then
        the profile; personal data and the record's dates folded away below."""
        sets: list[tuple[str | None, dict[str, Any]]] = [
            (
                "Status",
                {
                    "fields": (
                        "player_id",
                        "account_status",
                        "kyc_status",
                        "self_excluded",
                        "self_excluded_until",
                        "cool_off_until",
                        "at_risk",
                        "erased_at",
                    )
                },
            ),
            ("Bonuses", {"fields": ("bonus_list",)}),
            ("Messages to PEP", {"fields": ("pep_messages",)}),
            ("Reconciliation", {"fields": ("reconciliation_items",)}),
            ("PEP loyalty (from PEP's webhooks)", {"fields": ("pep_loyalty",)}),
            (
                "Profile",
                {
                    "fields": (
                        "brand_id",
                        "country",
                        "currency",
                        "registration_date",
                        "registration_device",
                    )
                },
            ),
        ]
        if may_see_personal_data(request):
            personal = tuple("tag_list" if f == "tags" else f for f in PERSONAL)
            fields = (*personal, "email_verified", "phone_verified")
            sets.append(("Personal data", {"fields": fields, "classes": ("collapse",)}))
        sets.append(("Record", {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}))
        return sets

    @admin.display(description="bonuses (newest first)")
    def bonus_list(self, obj: Player) -> str:
        rows = obj.bonuses.select_related("bonus").order_by("-granted_at", "-id")[:RECENT_BONUSES]
        if not rows:
            return "No bonuses."
        items = format_html_join(
            "", "<li>{} — {}</li>", ((bonus_summary(row), row.get_status_display()) for row in rows)
        )
        url = changelist_url("bonuses", "playerbonus", q=obj.player_id)
        return format_html('<ul>{}</ul><a href="{}">All bonuses of this player</a>', items, url)

    def has_resync_permission(self, request: HttpRequest) -> bool:
        return has_backoffice_perm(request.user, RESYNC_PLAYER)

    @admin.action(
        description="Re-sync selected players to PEP (send their whole profile)",
        permissions=["resync"],
    )
    def resync_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        players = list(queryset[: RESYNC_MAX_SELECTED + 1])
        if len(players) > RESYNC_MAX_SELECTED:
            self.message_user(
                request, f"Select at most {RESYNC_MAX_SELECTED} players to re-sync.", messages.ERROR
            )
            return
        cause = f"admin:{request.user.get_username()}"
        with transaction.atomic():
            sent = sum(
                1
                for player in players
                if services.player_resend_fields(player, profile.WIRE_TO_FIELD, cause=cause)
            )
            staff_action_record(
                user=request.user,
                action=StaffAction.Kind.PLAYER_RESYNC,
                objects=players,
                outcome=f"{sent} queued",
            )
        self.message_user(request, f"{sent} player(s) queued for re-sync to PEP.", messages.SUCCESS)
        if sent < len(players):
            self.message_user(
                request,
                f"{len(players) - sent} player(s) had nothing to send (erased, empty, or an "
                "old id PEP's URLs cannot carry).",
                messages.WARNING,
            )

    @admin.action(
        description="Re-open and re-send the selected players' reconciliation items",
        permissions=["resync"],
    )
    def resync_reconciliation(self, request: HttpRequest, queryset: QuerySet) -> None:
        player_ids = list(queryset.values_list("player_id", flat=True)[: RESYNC_MAX_SELECTED + 1])
        if len(player_ids) > RESYNC_MAX_SELECTED:
            self.message_user(
                request, f"Select at most {RESYNC_MAX_SELECTED} players to re-sync.", messages.ERROR
            )
            return
        with transaction.atomic():
            report = resync_players(player_ids=player_ids, actor=request.user.get_username())
            staff_action_record(
                user=request.user,
                action=StaffAction.Kind.RECONCILIATION_RESYNC,
                objects=list(queryset.filter(player_id__in=player_ids)),
                outcome=f"re-sync #{report.request.pk}: {report.players} player(s) re-sent",
            )
        self.message_user(
            request,
            f"Re-sync #{report.request.pk}: {report.players} player(s) had reconciliation items "
            "to re-send (recorded in the audit trail).",
            messages.SUCCESS,
        )

    @admin.display(description="tags")
    def tag_list(self, obj: Player) -> str:
        return tag_list(obj.tags)

    @admin.display(description="level, rank, XP and tokens")
    def pep_loyalty(self, obj: Player) -> str:
        lines = loyalty_lines(obj.player_id)
        return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines)) or "-"

    @admin.display(description="messages to PEP (newest first)")
    def pep_messages(self, obj: Player) -> str:
        rows = OutboxMessage.objects.filter(player_id=obj.player_id).order_by("-created_at")[
            :RECENT_MESSAGES
        ]
        items = format_html_join(
            "",
            "<li>{} — {} — {}</li>",
            (
                (
                    change_link(row, f"#{row.pk} {row.message_type}"),
                    row.get_status_display(),
                    # In the staff member's zone (StaffTimezoneMiddleware), like admin fields.
                    date_format(timezone.localtime(row.created_at), "DATETIME_FORMAT"),
                )
                for row in rows
            ),
        )
        url = changelist_url("events", "outboxmessage", player_id=obj.player_id)
        return format_html('<ul>{}</ul><a href="{}">All messages about this player</a>', items, url)

    @admin.display(description="reconciliation items")
    def reconciliation_items(self, obj: Player) -> str:
        links = reconciliation_links(obj.player_id)
        if not links:
            return "No reconciliation records are kept yet."
        return format_html_join(" · ", '<a href="{}">{}</a>', links)


def reconciliation_links(player_id: str) -> list[tuple[str, str]]:
    """Links to the reconciliation lists filtered to one player, for the lists that exist."""
    from django.apps import apps

    if not apps.is_installed("reconciliation"):
        return []
    links = []
    for model in apps.get_app_config("reconciliation").get_models():
        if not admin.site.is_registered(model):
            continue
        names = {field.name for field in model._meta.get_fields()}
        lookup = (
            "player_id"
            if "player_id" in names
            else "player__player_id"
            if "player" in names
            else None
        )
        if lookup is None:
            continue
        try:
            url = changelist_url(
                model._meta.app_label, model._meta.model_name, **{lookup: player_id}
            )
        except NoReverseMatch:
            continue
        links.append((url, str(model._meta.verbose_name_plural)))
    return links


class ChunkInline(ReadOnlyTabularInline):
    model = MigrationChunk
    fields = (
        "sequence",
        "status",
        "player_count",
        "first_pk",
        "last_pk",
        "error_count",
        "sent_at",
        "answered_at",
        "last_error",
    )
    readonly_fields = (*fields, "last_error_hidden")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if may_see_personal_data(request):
            return self.fields
        return tuple("last_error_hidden" if f == "last_error" else f for f in self.fields)

    @admin.display(description="last error")
    def last_error_hidden(self, obj: MigrationChunk) -> str:
        # PEP's answer may echo the chunk's players' data (names, e-mails).
        return "[hidden: may hold personal data]" if obj.last_error else ""


@admin.register(MigrationRun)
class MigrationRunAdmin(OfferedLookupsMixin, AppendOnlyMixin, admin.ModelAdmin):
    list_display = ("id", "status", "started_at", "finished_at")
    list_filter = ("status",)
    ordering = ("-id",)
    inlines = (ChunkInline,)
