"""The 403 page: the admin's navigation and a sentence on which permission is missing.

Staff who follow a link they may not use (a shared URL, a bookmark from another role) see
which right the page needs and which groups hold it, instead of a bare "403 Forbidden".
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.urls import Resolver404, resolve
from django.views import defaults

from pepbridge.api.exception_handler import error_body
from pepbridge.api.views import API_PREFIXES
from pepbridge.backoffice.models import REPLAY_DELIVERIES

# Admin URL name suffix -> the permission verb the page needs.
_VERBS = {
    "changelist": "view",
    "change": "view",
    "history": "view",
    "add": "add",
    "delete": "delete",
}
# Pages of the back office's own, by URL name -> the permission they need.
_OWN = {
    "events_outboxmessage_act": f"pepbridge.{REPLAY_DELIVERIES}",
    "reconciliation_auditstep_export": "reconciliation.export_audit",
    "pepbridge_staffaction_export": "pepbridge.view_staffaction",
}


@dataclass(frozen=True)
class Missing:
    permission: str  # "app_label.codename"
    name: str  # the permission's own description, e.g. "Can view staff action"
    groups: list[str]


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler403: the error shape under the API prefixes; for staff, an admin page that says
    what is missing; Django's page for anyone else."""
    if request.path.startswith(API_PREFIXES):
        return JsonResponse(error_body(403, "Forbidden."), status=403)
    user = getattr(request, "user", None)
    if not (user and user.is_active and user.is_staff):
        return defaults.permission_denied(request, exception or Exception())
    missing = missing_permission(request)
    context = {
        **admin.site.each_context(request),
        "title": "You may not open this page",
        "missing": missing,
        "reason": str(exception or ""),
    }
    return TemplateResponse(request, "403.html", context, status=403).render()


def missing_permission(request: HttpRequest) -> Missing | None:
    """The permission the requested admin page needs that the user lacks, if it can be named."""
    try:
        url_name = resolve(request.path_info).url_name or ""
    except Resolver404:
        return None
    needed = _OWN.get(url_name) or _model_permission(url_name)
    if needed is None or request.user.has_perm(needed):
        return None
    app_label, codename = needed.split(".", 1)
    permission = Permission.objects.filter(
        content_type__app_label=app_label, codename=codename
    ).first()
    if permission is None:
        return Missing(needed, codename, [])
    groups = Group.objects.filter(permissions=permission).order_by("name")
    return Missing(needed, permission.name, list(groups.values_list("name", flat=True)))


def _model_permission(url_name: str) -> str | None:
    for model in admin.site._registry:
        opts = model._meta
        prefix = f"{opts.app_label}_{opts.model_name}_"
        verb = _VERBS.get(url_name.removeprefix(prefix)) if url_name.startswith(prefix) else None
        if verb:
            return f"{opts.app_label}.{verb}_{opts.model_name}"
    return None
