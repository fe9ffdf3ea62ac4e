"""System check: in production the app's database role must not own the audit trail."""

from __future__ import annotations

from typing import Any

from django.core.checks import Tags, Warning, register
from django.db import DatabaseError, connections

from reconciliation import db_roles


@register(Tags.database, deploy=True)
def check_trail_not_owned_by_app_role(app_configs: Any, **kwargs: Any) -> list[Warning]:
    """The owner of a table can disable its append-only trigger and truncate it: warn if that
    is the role the app connects with (DATABASE_URL). Silent on SQLite and when unreachable.

    A database check, as Django asks of checks that query: it runs with
    `check --deploy --database default` (and in `migrate`), never where no database is wanted.
    """
    connection = connections["default"]
    if "default" not in (kwargs.get("databases") or ()) or connection.vendor != "postgresql":
        return []
    try:
        with connection.cursor() as cursor:
            owned = db_roles.owned_trail_tables(cursor, db_roles.trail_tables())
    except DatabaseError:
        return []
    if not owned:
        return []
    return [
        Warning(
            "DATABASE_URL's role owns (or is a superuser over) the audit trail: "
            f"{', '.join(owned)}.",
            hint="It could DISABLE the append-only trigger, rewrite or TRUNCATE the trail. Run the "
            "app as a role that owns nothing and migrate with MIGRATE_DATABASE_URL "
            "(docs/security.md, 'Database roles'; manage.py db_roles).",
            id="reconciliation.W001",
        )
    ]
