"""Per-client request throttling for the inbound APIs (429 with Retry-After).

A fixed window counted with `cache.add` + `cache.incr`: both are atomic on Redis, so when
REDIS_URL makes the cache shared every process counts against the same limit. With the default
local-memory cache each process counts on its own (docs/credentials.md).
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from pepbridge.api.authentication import principal_of

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int] | None:
    """Read "6000/min", "100/s", "5000/hour" as (requests, seconds); "off" or "" as no limit."""
    if rate.strip().lower() in ("", "off", "none"):
        return None
    count, _, period = rate.partition("/")
    seconds = _PERIODS.get(period.strip()[:1].lower())
    if not count.strip().isdigit() or int(count) < 1 or seconds is None:
        raise ImproperlyConfigured(f"API_THROTTLE_RATE: {rate!r} is not like 6000/min or 100/s")
    return int(count), seconds


class ClientRateThrottle(BaseThrottle):
    """At most `settings.API_THROTTLE_RATE` requests per client (OAuth client or API key)."""

    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        principal = principal_of(request)
        limit = parse_rate(settings.API_THROTTLE_RATE)
        if principal is None or limit is None:
            return True
        count, period = limit
        now = time.time()
        window = int(now // period)
        if self._hits(f"api-throttle:{principal.key}:{window}", period) <= count:
            return True
        self._wait = (window + 1) * period - now
        return False

    @staticmethod
    def _hits(key: str, period: int) -> int:
        cache.add(key, 0, timeout=period + 1)
        try:
            return cache.incr(key)
        except ValueError:  # the window's key expired between add and incr
            cache.add(key, 1, timeout=period + 1)
            return 1

    def wait(self) -> float | None:
        return self._wait
