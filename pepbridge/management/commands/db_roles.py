"""Print the SQL that sets up the owner and app roles, or apply the app role's grants.

manage.py db_roles setup --owner pepbridge_owner --app pepbridge_app \
        | sudo -u postgres psql -v ON_ERROR_STOP=1 -d pepbridge
manage.py db_roles grant     # as the owner (MIGRATE_DATABASE_URL); migrate does it already
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from reconciliation import db_roles


class Command(BaseCommand):
    help = (
        "Two PostgreSQL roles: print the superuser's setup SQL, or re-apply the app role's grants."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        setup = sub.add_parser("setup", help="print the SQL a superuser runs once, in the database")
        setup.add_argument("--owner", required=True, help="role that owns the tables and migrates")
        setup.add_argument("--app", required=True, help="role of DATABASE_URL (web and workers)")
        setup.add_argument("--database", default=None, help="default: DATABASE_URL's database")
        grant = sub.add_parser("grant", help="as the owner: grant the app role on existing tables")
        grant.add_argument("--app", required=True, help="role of DATABASE_URL")
        grant.add_argument("--print", action="store_true", help="print the SQL, run nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        on_postgres = "postgresql" in settings.DATABASES["default"]["ENGINE"]
        try:
            if options["action"] == "setup":
                database = options["database"] or (
                    settings.DATABASES["default"]["NAME"] if on_postgres else ""
                )
                if not database:
                    raise CommandError("--database is needed (DATABASE_URL is not PostgreSQL)")
                self._print(
                    db_roles.setup_sql(
                        owner=options["owner"], app=options["app"], database=database
                    )
                )
            elif options["print"]:
                self._print(db_roles.grant_sql(app=options["app"], trail=db_roles.trail_tables()))
            elif on_postgres:
                self._grant(options["app"])
            else:
                raise CommandError("database roles are for PostgreSQL (DATABASE_URL is not)")
        except db_roles.RoleNameError as exc:
            raise CommandError(str(exc)) from None

    def _print(self, statements: list[str]) -> None:
        self.stdout.write("\n".join(statements))

    def _grant(self, app: str) -> None:
        owner = settings.MIGRATE_DATABASE or settings.DATABASES["default"]
        with db_roles.connected_as(connection, owner):
            self._print(db_roles.grant_app_role(connection, app))
