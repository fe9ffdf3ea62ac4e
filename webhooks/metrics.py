"""Counters of the webhook intake and processing, on the shared Prometheus registry."""

from __future__ import annotations

from prometheus_client import Counter

WEBHOOK_REQUESTS = Counter(
    "pepbridge_webhook_requests_total",
    "PEP webhook requests by outcome (accepted, bad_signature, stale_timestamp, malformed, ...).",
    ["outcome"],
)
WEBHOOK_EVENTS = Counter(
    "pepbridge_webhook_events_total",
    "PEP webhook events by outcome (stored, duplicate, processed, stored_only, failed).",
    ["outcome"],
)
