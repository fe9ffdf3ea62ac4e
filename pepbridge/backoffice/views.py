"""The time zone picker, served inside the admin (the dashboard page: pepbridge/dashboard)."""

from __future__ import annotations

import zoneinfo

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from pepbridge.backoffice.middleware import COOKIE, zone_or_none

ONE_YEAR = 365 * 24 * 3600


def time_zone(request: HttpRequest) -> HttpResponse:
    """Pick the zone admin pages show times in (kept in a cookie by this browser)."""
    if request.method == "POST":
        return _store_zone(request)
    context = {
        **admin.site.each_context(request),
        "title": "Time zone",
        "zones": sorted(zoneinfo.available_timezones()),
        "current": timezone.get_current_timezone_name(),
        "next": request.GET.get("next", ""),
    }
    return TemplateResponse(request, "admin/backoffice/time_zone.html", context)


def _store_zone(request: HttpRequest) -> HttpResponse:
    name = request.POST.get("zone", "")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = reverse("admin:index")
    response = HttpResponseRedirect(target)
    if zone_or_none(name) is None:
        messages.error(request, f"Unknown time zone {name!r}.")
        return response
    response.set_cookie(
        COOKIE, name, max_age=ONE_YEAR, samesite="Lax", secure=request.is_secure(), httponly=True
    )
    messages.success(request, f"Times are now shown in {name}.")
    return response
