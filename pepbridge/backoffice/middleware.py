"""Show times in the staff member's time zone, chosen once and kept in a cookie."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

COOKIE = "pepbridge_tz"


def zone_or_none(name: str | None) -> zoneinfo.ZoneInfo | None:
    """The named IANA zone, or None for a missing or unknown name (never an error page)."""
    if not name:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


class StaffTimezoneMiddleware:
    """Activate the zone from the cookie for the request; TIME_ZONE applies without one.

    A cookie rather than a profile table: it needs no migration, and a staff member working
    from two places can keep a zone per browser.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = zone_or_none(request.COOKIES.get(COOKIE))
        if zone is None:
            return self.get_response(request)
        timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
