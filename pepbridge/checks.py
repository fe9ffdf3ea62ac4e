"""System checks for settings that are known to be unsafe or slow in production."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Warning, register


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


def _uses_pool(db: dict[str, Any]) -> bool:
    return bool(db.get("OPTIONS", {}).get("pool"))


@register()
def check_task_queue(app_configs: Any, **kwargs: Any) -> list[Warning]:
    conf = settings.Q_CLUSTER
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
