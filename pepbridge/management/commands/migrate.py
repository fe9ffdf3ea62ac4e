"""`migrate`, run as the owner role when MIGRATE_DATABASE_URL is set, then the app role's grants.

Without MIGRATE_DATABASE_URL (development, SQLite, the test suite) this is Django's migrate.
With it, the default connection is re-opened with the owner's credentials for the migration,
and the role of DATABASE_URL (the app role) is then granted what it needs on the tables that
exist now, trail tables excepted (reconciliation/db_roles.py).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import CommandError
from django.core.management.commands import migrate
from django.db import DEFAULT_DB_ALIAS, connections

from reconciliation import db_roles


class Command(migrate.Command):
    help = migrate.Command.help + " As MIGRATE_DATABASE_URL's role when set."

    def handle(self, *args: Any, **options: Any) -> None:
        owner = settings.MIGRATE_DATABASE
        if not owner or options["database"] != DEFAULT_DB_ALIAS:
            super().handle(*args, **options)
            return
        connection = connections[DEFAULT_DB_ALIAS]
        app_role = db_roles.current_role(connection)
        with db_roles.connected_as(connection, owner):
            owner_role = db_roles.current_role(connection)
            if owner_role == app_role:
                raise CommandError("MIGRATE_DATABASE_URL and DATABASE_URL name the same role")
            super().handle(*args, **options)
            db_roles.grant_app_role(connection, app_role)
        if options["verbosity"] >= 1:
            self.stdout.write(
                f"Migrated as {owner_role}; granted {app_role} (trail: read, insert)."
            )
