"""Players as staff see them: pseudonymous by default, personal data only with permission.

Player data belongs to the operator's platform and reaches the bridge through its API, so the
admin does not edit players; it shows them with everything related and can re-sync one to PEP.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join

from events.models import OutboxMessage
from pepbridge.backoffice.admin_tools import (
    AppendOnlyMixin,
    BigListMixin,
    ExactSearchMixin,
    OfferedLookupsMixin,
    ReadOnlyTabularInline,
    change_link,
    changelist_url,
    may_see_personal_data,
    tag_list,
)
from pepbridge.backoffice.models import RESYNC_PLAYER, StaffAction, has_backoffice_perm
from pepbridge.backoffice.services import staff_action_record
from players import profile, services
from players.models import MarketingConsent, MigrationChunk, MigrationRun, Player

if TYPE_CHECKING:
    from django_stubs_ext import FieldOpts, FieldsetSpec, StrOrPromise

RECENT_MESSAGES = 10
RESYNC_MAX_SELECTED = 100
PERSONAL = tuple(profile.PERSONAL_FIELDS)


@dataclass(frozen=True)
class PlayerSection:
    """A block of the player's page that an app above players adds (its bonuses, its loyalty).

    Players may not import those apps (docs/architecture.md, "Layers"), so each one registers
    its block from its own admin.py, as reconciliation registers its player-change hook in
    players.services: the lower layer offers a list, the upper one fills it.
    """

    title: str
    # An @admin.display function of the player: its description is the field's label.
    show: Callable[[Player], str]
    # The title of the block it follows; before "Profile" when that block is not on the page.
    after: str


# Filled at start-up by the admin modules of bonuses, reconciliation and webhooks.
player_sections: list[PlayerSection] = []
# The player list's admin actions: its own, then those the apps above add the same way, each
# `(model_admin, request, queryset)`. PlayerAdmin.actions is this list: Django reads it per request.
player_actions: list[str | Callable[[Any, HttpRequest, QuerySet], None]] = ["resync_selected"]


def add_player_section(section: PlayerSection) -> None:
    """Add a block to the player's page (once per title, so a re-imported module adds none)."""
    if all(known.title != section.title for known in player_sections):
        player_sections.append(section)


def add_player_action(action: Callable[[Any, HttpRequest, QuerySet], None]) -> None:
    """Add an action to the player list (once)."""
    if action not in player_actions:
        player_actions.append(action)


def _with_sections(
    sets: list[tuple[StrOrPromise | None, FieldOpts]],
) -> list[tuple[StrOrPromise | None, FieldOpts]]:
    """`sets` with each registered block after the one it names, in registration order."""
    for section in player_sections:
        titles = [title for title, _ in sets]
        anchor = section.after if section.after in titles else None
        at = titles.index(anchor) + 1 if anchor else titles.index("Profile")
        # The block's field is its display function: Django takes a callable that is among the
        # readonly fields (get_readonly_fields adds each), django-stubs' FieldOpts names only.
        sets.insert(at, (section.title, {"fields": (section.show,)}))  # type: ignore[typeddict-item]
    return sets


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


@admin.register(Player)
class PlayerAdmin(
    OfferedLookupsMixin, ExactSearchMixin, AppendOnlyMixin, BigListMixin, admin.ModelAdmin
):
    # Each filter has an index (migration 0003). No KYC filter: KYC is neither sent to PEP nor
    # a reason to refuse a bonus; the column stays in the list.
    list_filter = ("account_status", "self_excluded", "at_risk", ErasedFilter)
    ordering = ("-id",)
    search_help_text = (
        "Exact player id (with personal-data access also the start of a username or e-mail, "
        "in any case: lena.mus finds LENA.MUSTER@example.com)."
    )
    inlines = (ConsentInline,)
    readonly_fields = ("pep_messages", "tag_list")

    actions = player_actions

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[Any, ...]:
        return (*self.readonly_fields, *(section.show for section in player_sections))

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

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> FieldsetSpec:
        """What support looks up first (state, flags, bonuses, messages, reconciliation), then
        the profile; personal data and the record's dates folded away below. The blocks of the
        apps above players (bonuses, reconciliation, loyalty) come from `player_sections`."""
        sets: list[tuple[StrOrPromise | None, FieldOpts]] = [
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
            ("Messages to PEP", {"fields": ("pep_messages",)}),
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
        sets = _with_sections(sets)
        if may_see_personal_data(request):
            personal = tuple("tag_list" if f == "tags" else f for f in PERSONAL)
            fields = (*personal, "email_verified", "phone_verified")
            sets.append(("Personal data", {"fields": fields, "classes": ("collapse",)}))
        sets.append(("Record", {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}))
        return sets

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

    @admin.display(description="tags")
    def tag_list(self, obj: Player) -> str:
        return tag_list(obj.tags)

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
