"""The staff actions log: what staff did in the back office, filterable and exportable as CSV.

Compliance and Admins may read it (migration pepbridge.0004); nobody may add, change or delete
a record. Each action also shows in the History of every row it touched (admin LogEntry).

Besides the back office's own actions (which call `staff_action_record`), the admin's form
saves and deletions of any model (users, groups, bonuses...) are mirrored from the LogEntry
Django writes, and the site-wide "delete selected" action records several rows as one action.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC
from typing import Any

from django.contrib import admin
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.contrib.admin.exceptions import DisallowedModelAdminLookup
from django.contrib.admin.models import LogEntry
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import BadRequest, PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.http import HttpRequest, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.translation import gettext_lazy

from pepbridge.backoffice.admin_tools import (
    AppendOnlyMixin,
    BigListMixin,
    listed_queryset,
    truncated,
)
from pepbridge.backoffice.models import StaffAction
from pepbridge.backoffice.services import staff_action_from_log_entry, staff_delete_record

CSV_HEADER = (
    "time_utc",
    "user",
    "action",
    "object_type",
    "object_ids",
    "count",
    "outcome",
    "reason",
)


@receiver(post_save, sender=LogEntry, dispatch_uid="pepbridge.staff_action_from_log_entry")
def _mirror_log_entry(sender: type, instance: LogEntry, created: bool, **kwargs: Any) -> None:
    if created:
        staff_action_from_log_entry(instance)


# Django's description, word for word so its translations apply (the stubs do not know the
# `short_description` that `admin.action` sets on Django's function).
@admin.action(
    permissions=["delete"], description=gettext_lazy("Delete selected %(verbose_name_plural)s")
)
def delete_selected(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet
) -> TemplateResponse | None:
    """Django's "delete selected"; a deletion of several rows is also one staff action (one
    row's deletion is logged by Django with a single LogEntry, mirrored above)."""
    confirmed = bool(request.POST.get("post"))
    doomed = list(queryset) if confirmed else []
    with transaction.atomic():
        response = django_delete_selected(modeladmin, request, queryset)
        if confirmed and response is None and len(doomed) > 1:
            staff_delete_record(user=request.user, objects=doomed)
    return response


admin.site.add_action(delete_selected, "delete_selected")


class UserFilter(admin.SimpleListFilter):
    """Staff who acted, read off the (username, at) index rather than the user table."""

    title = "user"
    parameter_name = "username"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        rows = model_admin.get_queryset(request)
        names = rows.values_list("username", flat=True).distinct().order_by("username")
        return [(name, name) for name in names]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(username=self.value()) if self.value() else queryset


@admin.register(StaffAction)
class StaffActionAdmin(AppendOnlyMixin, BigListMixin, admin.ModelAdmin):
    list_display = ("at", "username", "action", "content_type", "count", "outcome", "reason_short")
    list_filter = (UserFilter, "action", ("at", admin.DateFieldListFilter))
    list_select_related = ("content_type",)
    ordering = ("-at", "-id")
    fields = (
        "at",
        "username",
        "action",
        "content_type",
        "count",
        "object_ids",
        "outcome",
        "reason",
    )
    change_list_template = "admin/backoffice/staffaction_change_list.html"

    @admin.display(description="reason")
    def reason_short(self, obj: StaffAction) -> str:
        return truncated(obj.reason, 60)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        """A staff member sees their own actions; Compliance and Admins see everyone's."""
        rows = super().get_queryset(request)
        if request.user.has_perm("pepbridge.view_all_staffaction"):
            return rows
        return rows.filter(user_id=request.user.pk)

    def get_urls(self) -> list[URLPattern]:
        export = self.admin_site.admin_view(self.export_view)
        own = [path("export/", export, name="pepbridge_staffaction_export")]
        return own + super().get_urls()

    def export_view(self, request: HttpRequest) -> StreamingHttpResponse:
        """The list as it is filtered, as CSV, oldest first (for whoever may view the list)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        rows = self._listed(request).order_by("at", "id").select_related("content_type")
        response = StreamingHttpResponse(_csv_lines(rows), content_type="text/csv")
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response["Content-Disposition"] = f'attachment; filename="staff-actions-{stamp}.csv"'
        return response

    def _listed(self, request: HttpRequest) -> QuerySet:
        try:
            return listed_queryset(self, request)
        except (IncorrectLookupParameters, DisallowedModelAdminLookup) as exc:
            raise BadRequest(f"not a filter of the staff actions list: {exc}") from None


class _Line:
    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value  # a spreadsheet must not run a formula typed into a reason
    return "" if value is None else value


def _csv_lines(rows: QuerySet) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(CSV_HEADER)
    for row in rows.iterator(chunk_size=2000):
        values = (
            row.at,
            row.username,
            row.action,
            row.content_type.model if row.content_type else "",
            " ".join(row.object_ids),
            row.count,
            row.outcome,
            row.reason,
        )
        yield writer.writerow([_cell(value) for value in values])
