"""Building blocks shared by the apps' ModelAdmins: append-only records, JSON, links, PII."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, overload
from urllib.parse import urlencode

from django import forms
from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.admin.filters import ListFilter
from django.contrib.admin.views.main import ChangeList
from django.db.models import Model, Q, QuerySet
from django.db.models.functions import Lower
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import Truncator

from pepbridge.api.selectors import credential_names
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

    paginator: ClassVar[type] = EstimatedCountPaginator
    show_full_result_count = False
    # Facet counts are one COUNT per filter option: a scan each on a big table.
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50


if TYPE_CHECKING:
    # The mixins below go before a ModelAdmin in its bases: typed as one, mypy sees the admin's
    # getters they call (at run time they are plain classes, so the MRO stays Django's).
    _ModelAdminMixin = admin.ModelAdmin
else:
    _ModelAdminMixin = object


class ExactSearchMixin(_ModelAdminMixin):
    """Search by exact value on each of `search_fields`: one index lookup per field.

    Django's "=field" means iexact, i.e. UPPER(col) = UPPER(term), which no plain index serves;
    on a million rows that is a sequential scan per search. A "^field" here is a
    case-insensitive prefix search, `LOWER(col) LIKE 'term%'`, served on PostgreSQL by an
    index on LOWER(col) with text_pattern_ops (players.0004 for username and e-mail).
    """

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        match = Q(pk__in=[])
        for field in self.get_search_fields(request):
            if field.startswith("^"):
                alias = f"_lower_{field[1:]}"
                queryset = queryset.alias(**{alias: Lower(field[1:])})
                match |= Q(**{f"{alias}__startswith": term.lower()})
            else:
                match |= Q(**{field.lstrip("="): term})
        return queryset.filter(match), False


# What a list filter puts after its field's path in the query string (Django's field filters:
# choices, booleans, dates, relations, "empty"), plus the date parts of `at__year=` links.
_COMPARISONS = ("exact", "gte", "gt", "lte", "lt", "isnull", "isempty", "in")
FILTER_SUFFIXES = frozenset(("", *_COMPARISONS, "year", "month", "day", "id__exact", "pk__exact"))


class OfferedLookupsMixin(_ModelAdminMixin):
    """Staff without `view_personal_data` may filter a list only as the page offers it.

    Django allows any lookup on a model's own fields from the query string (`?email=`,
    `?first_name__iexact=`, `?body__contains=`), so the count of results answers "does a
    player with this e-mail exist" for someone who may not see e-mails. Without the
    permission, a lookup must be a list filter's (its field, or its field plus a filter
    suffix) or an exact match on a search field, which the search box offers anyway.
    """

    # ModelAdmin.lookup_allowed's signature in Django 5.x and django-stubs: the request may still
    # be left out (RemovedInDjango60Warning), though the admin's change list always passes it.
    @overload
    def lookup_allowed(self, lookup: str, value: str, request: None = None) -> bool: ...
    @overload
    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool: ...
    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        if request is None:
            return False  # who is asking is unknown: refuse rather than guess
        allowed = super().lookup_allowed(lookup, value, request)
        if not allowed or may_see_personal_data(request):
            return bool(allowed)
        return lookup in self.offered_lookups(request)

    def offered_lookups(self, request: HttpRequest) -> set[str]:
        """Every query-string key the list's filters and exact search produce."""
        offered: set[str] = set()
        paths: list[str] = []
        for item in self.get_list_filter(request):
            if isinstance(item, type) and issubclass(item, ListFilter):
                offered.add(getattr(item, "parameter_name", ""))
            elif isinstance(item, (list, tuple)):
                paths.append(str(item[0]))  # (field path, filter class)
            elif isinstance(item, str):
                paths.append(item)
        if self.date_hierarchy:
            paths.append(self.date_hierarchy)
        for path in paths:
            offered.update(f"{path}__{suffix}" if suffix else path for suffix in FILTER_SUFFIXES)
        for field in self.get_search_fields(request):
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


CONFIRM_EXAMPLES = 20  # rows named on a confirmation page; the rest are counted


class ReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Kept with the action in the staff actions list and each row's history.",
    )


def reason_or_confirmation(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet, *, title: str
) -> str | TemplateResponse:
    """The reason the staff member gave on the confirmation page, or that page to ask for it.

    The page posts the same admin action back to the same list URL (filters kept), with the
    selection (or `select_across` for "all N") and the reason; Django runs the action again.
    """
    form = ReasonForm(request.POST if request.POST.get("confirm") == "yes" else None)
    if form.is_bound and form.is_valid():
        return str(form.cleaned_data["reason"])
    describe = getattr(model_admin, "describe", str)
    select_across = request.POST.get("select_across") == "1"
    ids = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": model_admin.model._meta,
        "form": form,
        "action": request.POST.get("action", ""),
        "select_across": select_across,
        "selected_ids": ids or ["0"],  # Django runs an action only with a box ticked
        "checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "count": queryset.count(),
        "examples": [describe(obj) for obj in queryset[:CONFIRM_EXAMPLES]],
    }
    return TemplateResponse(request, "admin/backoffice/confirm_action.html", context)


def local_time(moment: datetime | None, now: datetime | None = None) -> str:
    """A time to the second in the staff member's zone, with the zone: the date only when it is
    not today ("18:45:02 CET", "2026-12-01 18:45:02 CET"); '' for none."""
    if moment is None:
        return ""
    local = timezone.localtime(moment)
    today = timezone.localtime(now or timezone.now()).date()
    return f"{local:%H:%M:%S %Z}" if local.date() == today else f"{local:%Y-%m-%d %H:%M:%S %Z}"


def truncated(text: str, chars: int = 60) -> str:
    """A list cell that keeps its column narrow: the start of `text`, the whole in `title`."""
    if len(text) <= chars:
        return text
    return format_html('<span title="{}">{}</span>', text, Truncator(text).chars(chars))


def bonus_value(bonus_type: str, amount: Decimal | None, currency: str = "") -> str:
    """What a bonus is worth, as staff say it: "10 EUR", "20 free spins", "5 free bets"."""
    if amount is None:
        return ""
    number = f"{amount:f}".rstrip("0").rstrip(".") if "." in f"{amount:f}" else f"{amount:f}"
    if bonus_type == "free_spins":
        return f"{number} free spins"
    if bonus_type == "free_bet" and not currency:
        return f"{number} free bets"
    return f"{number} {currency}".strip()


def tag_list(tags: Any) -> str:
    """A player's tags as tags, not as JSON."""
    if not tags:
        return "(none)"
    if not isinstance(tags, list):
        tags = [tags]
    return format_html_join(
        " ",
        '<span style="display:inline-block;padding:0 .5em;border:1px solid var(--border-color);'
        'border-radius:1em">{}</span>',
        ((str(tag),) for tag in tags),
    )


class CallerNamesChangeList(ChangeList):
    """A list of rows with a `client_key`, each told its credential's name (two queries a page)."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        rows = list(self.result_list)
        names = credential_names({row.client_key for row in rows})
        for row in rows:
            row._caller_name = names.get(row.client_key)
        self.result_list = rows


def caller_cell(obj: Any) -> str:
    """The credential's name, its raw key in the tooltip; the raw key if it is gone."""
    name = getattr(obj, "_caller_name", None)
    if name is None:
        name = credential_names({obj.client_key}).get(obj.client_key)
    if name is None:
        return obj.client_key
    return format_html('<span title="{}">{}</span>', obj.client_key, name)


class _FiltersOnly(ChangeList):
    """A change list's filtering, search and lookups, without counting or fetching a page."""

    def get_results(self, request: HttpRequest) -> None:
        self.result_count = self.full_result_count = 0
        self.result_list = self.queryset.none()


def listed_queryset(model_admin: admin.ModelAdmin, request: HttpRequest) -> QuerySet:
    """The rows a list shows for `request`'s query string (every filter, the search, any field
    lookup), unpaginated and uncounted: what a CSV export streams.

    May raise IncorrectLookupParameters or DisallowedModelAdminLookup, as the list does.
    """
    list_display = model_admin.get_list_display(request)
    return _FiltersOnly(
        request,
        model_admin.model,
        list_display,
        model_admin.get_list_display_links(request, list_display),
        model_admin.get_list_filter(request),
        model_admin.date_hierarchy,
        model_admin.get_search_fields(request),
        model_admin.get_list_select_related(request),
        model_admin.list_per_page,
        model_admin.list_max_show_all,
        model_admin.list_editable,
        model_admin,
        # django-stubs type ChangeList's arguments narrower than the ModelAdmin getters return.
        model_admin.get_sortable_by(request),  # type: ignore[arg-type]
        model_admin.search_help_text,  # type: ignore[arg-type]
    ).queryset
