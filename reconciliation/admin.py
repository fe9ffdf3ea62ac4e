"""Read-only admin of the audit trail: nobody may add, change or delete a record here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import URLPattern, path

from reconciliation.models import AuditStep, ReconciliationItem, ReconciliationRequest
from reconciliation.views import AuditExportView


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewing only; the trail is append-only (reconciliation.models)."""

    show_full_result_count = False  # no COUNT(*) over a large trail on every page

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ReconciliationRequest)
class ReconciliationRequestAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "source", "request_id", "outcome", "cause")
    list_filter = ("source", "outcome")
    search_fields = ("=request_id",)
    date_hierarchy = "received_at"


@admin.register(ReconciliationItem)
class ReconciliationItemAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "player_id", "field", "request")
    list_select_related = ("request",)
    search_fields = ("=player_id",)
    raw_id_fields = ("request",)


@admin.register(AuditStep)
class AuditStepAdmin(ReadOnlyAdmin):
    list_display = ("at", "kind", "player_id", "field", "cause", "outbox_message_id", "detail")
    list_filter = ("kind",)
    search_fields = ("=player_id",)
    raw_id_fields = ("request", "item")
    date_hierarchy = "at"
    change_list_template = "admin/reconciliation/auditstep/change_list.html"

    def get_urls(self) -> list[URLPattern]:
        export = self.admin_site.admin_view(AuditExportView.as_view())
        own = [path("export/", export, name="reconciliation_auditstep_export")]
        return own + super().get_urls()
