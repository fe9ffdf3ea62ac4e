"""Building blocks shared by the apps' ModelAdmins: append-only records, JSON, links, PII."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.admin.filters import ListFilter
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from pepbridge.backoffice.models import VIEW_PERSONAL_DATA, has_backoffice_perm
from pepbridge.backoffice.paginator import EstimatedCountPaginator


class AppendOnlyMixin:
    """Records written only by the system (audit, attempts, requests from PEP): look, never touch.

    Denies add, change and delete to everyone, superusers included; view permission still
    decides who may look.
    """

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class BigListMixin:
    """A list that stays fast on millions of rows: estimated totals, no full count."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    # Facet counts are one COUNT per filter option: a scan each on a big table.
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50


class ExactSearchMixin:
    """Search by exact value on each of `search_fields`: one index lookup per field.

    Django's "=field" means iexact, i.e. UPPER(col) = UPPER(term), which no plain index serves;
    on a million rows that is a sequential scan per search.
    """

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        match = Q(pk__in=[])
        for field in self.get_search_fields(request):  # type: ignore[attr-defined]
            match |= Q(**{field.lstrip("="): term})
        return queryset.filter(match), False


# What a list filter puts after its field's path in the query string (Django's field filters:
# choices, booleans, dates, relations, "empty"), plus the date parts of `at__year=` links.
_COMPARISONS = ("exact", "gte", "gt", "lte", "lt", "isnull", "isempty", "in")
FILTER_SUFFIXES = frozenset(("", *_COMPARISONS, "year", "month", "day", "id__exact", "pk__exact"))


class OfferedLookupsMixin:
    """Staff without `view_personal_data` may filter a list only as the page offers it.

    Django allows any lookup on a model's own fields from the query string (`?email=`,
    `?first_name__iexact=`, `?body__contains=`), so the count of results answers "does a
    player with this e-mail exist" for someone who may not see e-mails. Without the
    permission, a lookup must be a list filter's (its field, or its field plus a filter
    suffix) or an exact match on a search field, which the search box offers anyway.
    """

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        allowed = super().lookup_allowed(lookup, value, request)  # type: ignore[misc]
        if not allowed or may_see_personal_data(request):
            return bool(allowed)
        return lookup in self.offered_lookups(request)

    def offered_lookups(self, request: HttpRequest) -> set[str]:
        """Every query-string key the list's filters and exact search produce."""
        offered: set[str] = set()
        paths = []
        for item in self.get_list_filter(request):  # type: ignore[attr-defined]
            if isinstance(item, type) and issubclass(item, ListFilter):
                offered.add(getattr(item, "parameter_name", ""))
            else:
                paths.append(item[0] if isinstance(item, (list, tuple)) else item)
        if getattr(self, "date_hierarchy", None):
            paths.append(self.date_hierarchy)  # type: ignore[attr-defined]
        for path in paths:
            offered.update(f"{path}__{suffix}" if suffix else path for suffix in FILTER_SUFFIXES)
        for field in self.get_search_fields(request):  # type: ignore[attr-defined]
            if field.startswith("="):
                offered.update((field[1:], f"{field[1:]}__exact"))
        return offered


class ReadOnlyTabularInline(AppendOnlyMixin, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False


def pretty_json(value: Any) -> SafeString:
    """JSON (a parsed value or the stored text) indented for reading, in a <pre>."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return format_html("<pre>{}</pre>", value)
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False))


def changelist_url(app_label: str, model_name: str, **params: Any) -> str:
    url = reverse(f"admin:{app_label}_{model_name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def change_link(obj: Model | None, text: str | None = None) -> str:
    """A link to an object's admin page, or an empty string when there is none."""
    if obj is None:
        return ""
    meta = obj._meta
    url = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, text or str(obj))


def may_see_personal_data(request: HttpRequest) -> bool:
    return has_backoffice_perm(request.user, VIEW_PERSONAL_DATA)
