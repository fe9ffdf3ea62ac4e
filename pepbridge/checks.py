"""System checks for settings that are known to be unsafe or slow in production."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Warning, register

from pepbridge.api.checks import BUILTIN_VALIDATOR
from pepbridge.pep.contract import MESSAGE_TYPES

# HS256 needs a key at least as long as its hash (RFC 7518 3.2): 32 bytes.
IDENTITY_SECRET_MIN_BYTES = 32


@register(deploy=True)
def check_persistent_connections(app_configs: Any, **kwargs: Any) -> list[Warning]:
    db = settings.DATABASES["default"]
    if "postgresql" in db["ENGINE"] and not db.get("CONN_MAX_AGE") and not _uses_pool(db):
        return [
            Warning(
                "PostgreSQL connections are closed after every request and task.",
                hint="Set DB_CONN_MAX_AGE (default 600): django-q2's ORM broker reconnects on "
                "every operation otherwise, measured 7-12x slower.",
                id="pepbridge.W001",
            )
        ]
    return []


def _uses_pool(db: Mapping[str, Any]) -> bool:
    return bool(db.get("OPTIONS", {}).get("pool"))


@register()
def check_task_queue(app_configs: Any, **kwargs: Any) -> list[Warning]:
    conf: Mapping[str, Any] = settings.Q_CLUSTER
    warnings: list[Warning] = []
    if int(conf.get("retry", 0)) <= int(conf.get("timeout", 0)):
        warnings.append(
            Warning(
                "django-q2 'retry' is not above 'timeout' (Q_RETRY <= Q_TIMEOUT).",
                hint="A task still running would be handed to a second worker. Set Q_RETRY "
                "above Q_TIMEOUT.",
                id="pepbridge.W002",
            )
        )
    if int(conf.get("max_attempts", 0)) == 0:
        warnings.append(
            Warning(
                "django-q2 'max_attempts' is 0 (unlimited).",
                hint="A task that kills its worker would be retried forever. Set Q_MAX_ATTEMPTS "
                "(default 1: the outbox sweep re-delivers, not django-q2).",
                id="pepbridge.W003",
            )
        )
    return warnings


# Room for writing a pass's last chunk of outcomes and a token refresh after the last send.
DRAIN_SLACK_SECONDS = 5.0


@register()
def check_drain_fits_task_timeout(app_configs: Any, **kwargs: Any) -> list[Warning]:
    """A delivery pass must end before django-q2 kills it, or its unwritten chunk is re-sent."""
    conf: Mapping[str, Any] = settings.Q_CLUSTER
    timeout = float(conf.get("timeout", 0))
    longest = (
        settings.OUTBOX_DRAIN_MAX_SECONDS
        + settings.PEP_CONNECT_TIMEOUT
        + settings.PEP_READ_TIMEOUT
        + DRAIN_SLACK_SECONDS
    )
    if timeout > longest:
        return []
    return [
        Warning(
            f"Q_TIMEOUT ({timeout:g} s) leaves no room for a delivery pass ({longest:g} s).",
            hint="A pass starts sends for up to OUTBOX_DRAIN_MAX_SECONDS, the last one may take "
            "PEP_CONNECT_TIMEOUT + PEP_READ_TIMEOUT, plus a few seconds to write outcomes. Raise "
            "Q_TIMEOUT (and Q_RETRY above it) or lower OUTBOX_DRAIN_MAX_SECONDS, or django-q2 "
            "kills passes and PEP receives their last messages twice.",
            id="pepbridge.W004",
        )
    ]


@register()
def check_rate_limit_keys(app_configs: Any, **kwargs: Any) -> list[Warning]:
    """A misspelt OUTBOX_RATE_LIMITS key would silently leave its endpoint unlimited."""
    known = set(MESSAGE_TYPES) - {"token"}  # the token call never goes through the outbox
    unknown = sorted(set(settings.OUTBOX_RATE_LIMITS) - known)
    return [
        Warning(
            f"OUTBOX_RATE_LIMITS names an unknown message type: {key!r}.",
            hint=f"No endpoint is limited by it. Known message types: {', '.join(sorted(known))}.",
            id="pepbridge.W005",
        )
        for key in unknown
    ]


# --- Security in production (check --deploy; docs/security.md) -------------------------------


@register(deploy=True)
def check_identity_secret_length(app_configs: Any, **kwargs: Any) -> list[Error]:
    """A short HS256 secret lets anyone who sees one identity token brute-force the key."""
    secret = settings.PLAYER_IDENTITY_SECRET
    if settings.PLAYER_IDENTITY_VALIDATOR != BUILTIN_VALIDATOR or not secret:
        return []  # not set at all: pepbridge.api.W001
    length = len(secret.encode())
    if length >= IDENTITY_SECRET_MIN_BYTES:
        return []
    return [
        Error(
            f"PLAYER_IDENTITY_SECRET is {length} bytes; HS256 needs at least "
            f"{IDENTITY_SECRET_MIN_BYTES}.",
            hint="A short key can be found from one token, and then any player's identity "
            "forged. Generate one: python -c 'import secrets; print(secrets.token_urlsafe(48))'.",
            id="pepbridge.E011",
        )
    ]


@register(deploy=True)
def check_pep_over_https(app_configs: Any, **kwargs: Any) -> list[Error]:
    """The client secret and every player's data would cross the network in clear."""
    url = urlsplit(settings.PEP_BASE_URL)
    if url.scheme == "https" or _is_loopback(url.hostname or ""):
        return []
    return [
        Error(
            f"PEP_BASE_URL is not https: {url.scheme}://{url.hostname}",
            hint="The bridge sends PEP_CLIENT_SECRET, its token and players' personal data "
            "there. Use https:// (plain http is allowed only to a loopback host, such as a "
            "local sandbox or a TLS-terminating sidecar).",
            id="pepbridge.E012",
        )
    ]


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@register(deploy=True)
def check_sqlite_in_production(app_configs: Any, **kwargs: Any) -> list[Warning]:
    """SQLite is the embedded mode: one machine, one file, no role separation for the trail."""
    engine = settings.DATABASES["default"]["ENGINE"]
    if "sqlite" not in engine or settings.DEBUG or settings.ALLOW_SQLITE_IN_PRODUCTION:
        return []
    return [
        Warning(
            "The database is SQLite while DEBUG is false.",
            hint="SQLite serialises every writer and cannot separate the owner and app roles "
            "that protect the audit trail (docs/security.md). Use PostgreSQL, or set "
            "ALLOW_SQLITE_IN_PRODUCTION=true to run the embedded mode on purpose.",
            id="pepbridge.W011",
        )
    ]
