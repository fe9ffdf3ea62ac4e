"""GET /healthz and GET /metrics: figures for monitoring, behind one of three doors.

Allowed: a staff session, `Authorization: Bearer <HEALTH_TOKEN>`, or a client address inside
HEALTH_ALLOWED_CIDRS. The figures name no player, but they do describe the business's traffic,
so neither endpoint is public. /healthz is the dashboard's figures as JSON and answers 503 when
deliveries are stuck or a circuit toward PEP is open, so a plain HTTP check can alert on it;
/metrics is the Prometheus exposition (docs/operations.md).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from pepbridge import metrics
from pepbridge.dashboard import selectors
from pepbridge.metrics_db import DatabaseCollector

logger = logging.getLogger(__name__)


def _token_ok(request: HttpRequest) -> bool:
    expected = settings.HEALTH_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if not expected or scheme.lower() != "bearer" or not given:
        return False
    return hmac.compare_digest(given.strip().encode(), expected.encode())


def _network_ok(request: HttpRequest) -> bool:
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in settings.HEALTH_ALLOWED_NETWORKS)


def is_allowed(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    staff = bool(user and user.is_active and user.is_staff)
    return staff or _token_ok(request) or _network_ok(request)


def _token_age() -> float | None:
    from pepbridge.pep.client import get_pep_client

    try:
        return get_pep_client().token_age_seconds()
    except Exception:  # the health page must answer even when the PEP client cannot start
        logger.exception("health_token_age_failed")
        return None


def health_payload() -> dict[str, Any]:
    now = timezone.now()
    board = selectors.dashboard(now)
    figures = board.figures
    # The outbox's own view: only sendable heads count as overdue, plus each circuit's detail.
    figures["delivery"] = board.delivery
    figures["pep_token_age_seconds"] = _token_age()
    problems = []
    if figures["circuit"] == "open":
        problems.append("circuit_open")
    if figures["delivery"]["oldest_due_age_seconds"] > settings.HEALTH_MAX_DUE_AGE:
        problems.append("deliveries_stuck")
    figures["status"] = "degraded" if problems else "ok"
    figures["problems"] = problems
    return figures


def _refused(realm: str) -> JsonResponse:
    response = JsonResponse({"detail": "authentication required"}, status=401)
    response["WWW-Authenticate"] = f'Bearer realm="{realm}"'
    return response


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    if not is_allowed(request):
        return _refused("healthz")
    payload = health_payload()
    if payload["status"] == "ok":
        return JsonResponse(payload)
    response = JsonResponse(payload, status=503)
    # A degraded bridge is what this endpoint reports, not a server error: one WARNING line
    # here instead of django.request's ERROR "Service Unavailable: /healthz" on every check.
    logger.warning("healthz degraded", extra={"problems": ",".join(payload["problems"])})
    response._has_been_logged = True  # type: ignore[attr-defined]  # read by log_response
    return response


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """The Prometheus exposition: this host's process metrics plus figures read from the DB."""
    if not is_allowed(request):
        return _refused("metrics")
    body = metrics.exposition(DatabaseCollector())
    return HttpResponse(body, content_type=metrics.CONTENT_TYPE)
