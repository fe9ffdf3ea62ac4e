"""Process metrics for Prometheus: the PEP client, the rate limiter and delivery attempts.

Ground layer: it imports prometheus_client and nothing of pepbridge's apps, so the PEP client and
the delivery engine can call it with one line. What describes shared state (backlog, circuits,
assign-bonus requests) is read from the database at scrape time by `pepbridge.metrics_db`.

Counters here live in each process. For `/metrics` to add up every gunicorn and qcluster
process on a host, set PROMETHEUS_MULTIPROC_DIR (an empty directory, wiped before the processes
start) in all of their environments: prometheus_client then keeps each process's values in a
file there and the scrape sums them. Without it a scrape shows only the process that answers.
docs/operations.md has the deployment steps.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

CONTENT_TYPE = CONTENT_TYPE_LATEST
# Seconds: from a fast LAN answer to the default read timeout (PEP_READ_TIMEOUT).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

PEP_REQUEST_SECONDS = Histogram(
    "pepbridge_pep_request_duration_seconds",
    "One HTTP exchange with PEP, by contract endpoint, method and outcome "
    "(2xx..5xx, or the error class when PEP gave no answer).",
    ["endpoint", "method", "outcome"],
    buckets=LATENCY_BUCKETS,
)
PEP_IN_FLIGHT = Gauge(
    "pepbridge_pep_requests_in_flight",
    "Requests to PEP sent and not yet answered, summed over live processes.",
    multiprocess_mode="livesum",
)
PEP_TOKEN_REFRESHES = Counter(
    "pepbridge_pep_token_refreshes_total",
    "Access-token requests to PEP's token endpoint, by outcome (ok, failed).",
    ["outcome"],
)
RATE_LIMIT_WAITS = Counter(
    "pepbridge_rate_limit_waits_total",
    "Claims that found due rows of an endpoint but no rate-limit permit (OUTBOX_RATE_LIMITS).",
    ["endpoint"],
)
DELIVERY_ATTEMPTS = Counter(
    "pepbridge_delivery_attempts_total",
    "Outbox sends whose outcome was written, by message type and outcome "
    "(delivered, retry, failed = dead-lettered).",
    ["message_type", "outcome"],
)


def observe_pep_request(endpoint: str, method: str, outcome: str, seconds: float) -> None:
    """Record one HTTP exchange with PEP; `outcome` is a status class or an error class."""
    PEP_REQUEST_SECONDS.labels(endpoint, method, outcome).observe(seconds)


def status_outcome(status: int | None, error_class: str) -> str:
    """The latency histogram's outcome label: '2xx'..'5xx', else the error class."""
    if status:
        return f"{status // 100}xx"
    return error_class or "unknown"


@contextmanager
def pep_request_in_flight() -> Iterator[None]:
    """Count a request as in flight for the duration of the block."""
    PEP_IN_FLIGHT.inc()
    try:
        yield
    finally:
        PEP_IN_FLIGHT.dec()


@contextmanager
def token_refresh() -> Iterator[None]:
    """Count one token request: 'ok' when the block ends normally, 'failed' when it raises."""
    try:
        yield
    except BaseException:
        PEP_TOKEN_REFRESHES.labels("failed").inc()
        raise
    PEP_TOKEN_REFRESHES.labels("ok").inc()


def rate_limit_reserved(endpoint: str, wanted: int, granted: int) -> None:
    """Called by the rate limiter after each reservation; a claim left with no permit waits."""
    if wanted > 0 and granted == 0:
        RATE_LIMIT_WAITS.labels(endpoint).inc()


def attempts_recorded(outcomes: Iterable[tuple[str, str]]) -> None:
    """Count written attempts, given as (message_type, outcome) pairs, after their commit."""
    for message_type, outcome in outcomes:
        DELIVERY_ATTEMPTS.labels(message_type, outcome).inc()


class _DefaultRegistry(Collector):
    """This process's default registry (our metrics, process and platform figures)."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def multiprocess_dir() -> str | None:
    """The directory shared by this host's processes, or None in single-process mode."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def exposition(*collectors: Collector) -> bytes:
    """The text exposition of the process metrics plus `collectors` (read at this scrape)."""
    registry = CollectorRegistry()
    if multiprocess_dir():
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_DefaultRegistry())
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry)
