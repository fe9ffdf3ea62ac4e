"""Read-only admin of the audit trail: nobody may add, change or delete a record here.

The lists are built for tables of millions of rows like the other big lists (BigListMixin: no
COUNT(*) of the whole table, no facet counts, date filters instead of a date hierarchy, whose
year/month links are a DISTINCT over every row), and each offered filter has an index.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from pepbridge.backoffice.admin_tools import (
    AppendOnlyMixin,
    BigListMixin,
    ExactSearchMixin,
    OfferedLookupsMixin,
    changelist_url,
    listed_queryset,
    truncated,
)
from pepbridge.backoffice.models import StaffAction
from pepbridge.backoffice.services import staff_action_record
from players.admin import (
    RESYNC_MAX_SELECTED,
    PlayerSection,
    add_player_action,
    add_player_section,
)
from players.models import Player
from players.profile import WIRE_TO_FIELD
from reconciliation.feedback import UNSPECIFIED_FIELD
from reconciliation.models import AuditStep, ReconciliationItem, ReconciliationRequest
from reconciliation.services import resync_players
from reconciliation.views import AuditExportView


class TrailAdmin(
    OfferedLookupsMixin, ExactSearchMixin, AppendOnlyMixin, BigListMixin, admin.ModelAdmin
):
    """Viewing only; the trail is append-only (reconciliation.models)."""


class FieldFilter(admin.SimpleListFilter):
    """The profile fields PEP may miss: a fixed list, not a DISTINCT over the items.

    Any other name PEP sent can still be filtered with ?field=<name>.
    """

    title = "field"
    parameter_name = "field"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(name, name) for name in (*sorted(WIRE_TO_FIELD), UNSPECIFIED_FIELD)]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(field=self.value()) if self.value() else queryset


@admin.register(ReconciliationRequest)
class ReconciliationRequestAdmin(TrailAdmin):
    list_display = ("received_at", "source", "request_id", "outcome", "cause_short")

    @admin.display(description="cause", ordering="cause")
    def cause_short(self, obj: ReconciliationRequest) -> str:
        return truncated(obj.cause, 60)

    list_filter = ("source", "outcome", ("received_at", admin.DateFieldListFilter))
    search_fields = ("=request_id",)
    search_help_text = "Exact requestId or migration task id."


@admin.register(ReconciliationItem)
class ReconciliationItemAdmin(TrailAdmin):
    list_display = ("created_at", "player_id", "field", "status", "reason", "request")
    list_select_related = ("request", "state")
    # Status and reason are the item's current repair state (RepairState, one per item).
    list_filter = (
        "state__status",
        FieldFilter,
        "state__reason",
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = ("=player_id",)
    search_help_text = "Exact player id."
    raw_id_fields = ("request",)

    @admin.display(description="status", ordering="state__status")
    def status(self, obj: ReconciliationItem) -> str:
        return obj.state.get_status_display()

    @admin.display(description="reason")
    def reason(self, obj: ReconciliationItem) -> str:
        return obj.state.get_reason_display()


@admin.register(AuditStep)
class AuditStepAdmin(TrailAdmin):
    # Fits 1,400 px: long causes and details are cut in the list, whole on the step's page.
    list_display = ("at", "kind", "player_id", "field", "cause_short", "message", "detail_short")
    list_filter = ("kind", ("at", admin.DateFieldListFilter))
    search_fields = ("=player_id",)
    search_help_text = "Exact player id."
    raw_id_fields = ("request", "item")
    ordering = ("-at", "-id")  # served by the (at, id), (kind, at, id) and player indexes
    change_list_template = "admin/reconciliation/auditstep/change_list.html"

    @admin.display(description="cause", ordering="cause")
    def cause_short(self, obj: AuditStep) -> str:
        return truncated(obj.cause, 40)

    @admin.display(description="detail")
    def detail_short(self, obj: AuditStep) -> str:
        return truncated(obj.detail, 50)

    @admin.display(description="message to PEP", ordering="outbox_message_id")
    def message(self, obj: AuditStep) -> str:
        if obj.outbox_message_id is None:
            return ""
        url = reverse("admin:events_outboxmessage_change", args=[obj.outbox_message_id])
        return format_html('<a href="{}">#{}</a>', url, obj.outbox_message_id)

    def get_urls(self) -> list[URLPattern]:
        export = self.admin_site.admin_view(AuditExportView.as_view(model_admin=self))
        own = [path("export/", export, name="reconciliation_auditstep_export")]
        return own + super().get_urls()

    def listed_steps(self, request: HttpRequest) -> QuerySet[AuditStep]:
        """The steps this list shows for `request`'s query string (every filter, the search,
        any field lookup such as at__year), unpaginated and uncounted: what the export streams.

        May raise IncorrectLookupParameters or DisallowedModelAdminLookup, as the list does.
        """
        return listed_queryset(self, request)


# The player's page and list (players.admin): their reconciliation lists and the re-sync action.
# Registered from here because players may not import reconciliation.
@admin.display(description="reconciliation items")
def reconciliation_items(obj: Player) -> str:
    links = reconciliation_links(obj.player_id)
    if not links:
        return "No reconciliation records are kept yet."
    return format_html_join(" · ", '<a href="{}">{}</a>', links)


def reconciliation_links(player_id: str) -> list[tuple[str, str]]:
    """Links to the reconciliation lists filtered to one player, for the lists that exist."""
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
        model_name = model._meta.model_name  # None only while the model class is being built
        if lookup is None or model_name is None:
            continue
        try:
            url = changelist_url(model._meta.app_label, model_name, **{lookup: player_id})
        except NoReverseMatch:
            continue
        links.append((url, str(model._meta.verbose_name_plural)))
    return links


@admin.action(
    description="Re-open and re-send the selected players' reconciliation items",
    permissions=["resync"],
)
def resync_reconciliation(model_admin: Any, request: HttpRequest, queryset: QuerySet) -> None:
    player_ids = list(queryset.values_list("player_id", flat=True)[: RESYNC_MAX_SELECTED + 1])
    if len(player_ids) > RESYNC_MAX_SELECTED:
        model_admin.message_user(
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
    model_admin.message_user(
        request,
        f"Re-sync #{report.request.pk}: {report.players} player(s) had reconciliation items "
        "to re-send (recorded in the audit trail).",
        messages.SUCCESS,
    )


add_player_section(PlayerSection("Reconciliation", reconciliation_items, after="Messages to PEP"))
add_player_action(resync_reconciliation)
