"""Two PostgreSQL roles for one database: an owner that migrates, an app role that cannot rewrite
the reconciliation audit trail.

The role that owns a table can ALTER it (DISABLE TRIGGER), TRUNCATE it and grant itself anything,
so the append-only triggers of reconciliation migration 0002 only hold against a role that does
not own the trail. Hence:

- the owner role owns the database's `public` schema and every table (it runs `migrate`, with
  MIGRATE_DATABASE_URL);
- the app role (DATABASE_URL: web and workers) gets SELECT/INSERT/UPDATE/DELETE on the working
  tables, only SELECT and INSERT on the trail (every `AppendOnlyModel` table), only SELECT on
  `django_migrations`, USAGE on the sequences, and owns nothing.

`setup_sql()` is run once by a superuser (`manage.py db_roles setup | psql`); `grant_sql()` is
run by the owner after every migrate (the migrate command does it), because a table created by
a later migration must be granted, and a new trail table must lose what the default privileges
gave it. docs/security.md, "Database roles", is the recipe. It lives in this app because the
trail (`AppendOnlyModel`) is what it protects; the commands in pepbridge/management compose it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from django.apps import apps
from django.db.backends.base.base import BaseDatabaseWrapper

from reconciliation.models import AppendOnlyModel

WORKING_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
TRAIL_PRIVILEGES = "SELECT, INSERT"
READ_ONLY_TABLES = ("django_migrations",)
# Plain lower-case names only: they are spliced into SQL and into a DO block's string literal.
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_CONNECTION_KEYS = ("USER", "PASSWORD", "HOST", "PORT", "OPTIONS")


class RoleNameError(ValueError):
    """A role or database name that is not a plain lower-case PostgreSQL identifier."""


def ident(name: str) -> str:
    """`name` as a quoted identifier, refusing anything but a plain lower-case name."""
    if not _ROLE_NAME.match(name):
        raise RoleNameError(f"{name!r} is not a plain lower-case PostgreSQL name")
    return f'"{name}"'


def trail_tables() -> list[str]:
    """The tables of every append-only model: the audit trail the app role may not rewrite."""
    models = apps.get_models()
    return sorted(m._meta.db_table for m in models if issubclass(m, AppendOnlyModel))


def _create_role(name: str) -> str:
    # LOGIN only: neither role may create databases or roles. (NOSUPERUSER and NOBYPASSRLS,
    # the defaults of CREATE ROLE, only a superuser may state; the system check warns about a
    # superuser app role.)
    return (
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{name}') THEN "
        f"CREATE ROLE {ident(name)} LOGIN; END IF; END $$;\n"
        f"ALTER ROLE {ident(name)} LOGIN NOCREATEDB NOCREATEROLE;"
    )


def setup_sql(*, owner: str, app: str, database: str) -> list[str]:
    """Statements a superuser (or a CREATEROLE admin) runs once, connected to `database`: both
    roles, the owner owning the database and its schema, and default privileges so the owner's
    future tables are granted to the app role."""
    o, a, db = ident(owner), ident(app), ident(database)
    if owner == app:
        raise RoleNameError("the owner and the app role must be two roles")
    return [
        _create_role(owner),
        _create_role(app),
        # An admin with CREATEROLE but no superuser (a managed service's) may hand the
        # database over only as a member of the new owner.
        f"GRANT {o} TO CURRENT_USER;",
        f"ALTER DATABASE {db} OWNER TO {o};",
        f"GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {a};",
        f"ALTER SCHEMA public OWNER TO {o};",
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC;",
        f"GRANT USAGE ON SCHEMA public TO {a};",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA public "
        f"GRANT {WORKING_PRIVILEGES} ON TABLES TO {a};",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA public "
        f"GRANT USAGE, SELECT ON SEQUENCES TO {a};",
    ]


def grant_sql(
    *, app: str, trail: Sequence[str], read_only: Sequence[str] = READ_ONLY_TABLES
) -> list[str]:
    """Statements the owner runs after each migrate: the app role's privileges on the tables."""
    a = ident(app)
    statements = [
        f"GRANT USAGE ON SCHEMA public TO {a};",
        f"GRANT {WORKING_PRIVILEGES} ON ALL TABLES IN SCHEMA public TO {a};",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {a};",
    ]
    for table in (*trail, *read_only):
        allowed = TRAIL_PRIVILEGES if table in trail else "SELECT"
        statements += [
            f"REVOKE ALL ON TABLE {ident(table)} FROM {a};",
            f"GRANT {allowed} ON TABLE {ident(table)} TO {a};",
        ]
    return statements


def current_role(connection: BaseDatabaseWrapper) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        return str(cursor.fetchone()[0])


def grant_app_role(connection: BaseDatabaseWrapper, app: str) -> list[str]:
    """Run grant_sql() on `connection` (connected as the owner) for the existing tables."""
    existing = set(connection.introspection.table_names())
    statements = grant_sql(
        app=app,
        trail=[t for t in trail_tables() if t in existing],
        read_only=[t for t in READ_ONLY_TABLES if t in existing],
    )
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    return statements


@contextmanager
def connected_as(connection: BaseDatabaseWrapper, role: Mapping[str, Any]) -> Iterator[None]:
    """Reconnect `connection` with another role's credentials (same database) for the block."""
    saved = {key: connection.settings_dict.get(key) for key in _CONNECTION_KEYS}
    connection.close()
    connection.settings_dict.update({k: role[k] for k in _CONNECTION_KEYS if k in role})
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.update(saved)


# The check's query: trail tables the connected role owns, or could act as owner of (a member
# of the owning role, or a superuser).
OWNED_TRAIL_SQL = """
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relname = ANY(%s)
  AND (pg_has_role(current_user, c.relowner, 'MEMBER')
       OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user))
ORDER BY c.relname
"""


def owned_trail_tables(cursor: Any, trail: Sequence[str]) -> list[str]:
    """The trail tables the cursor's role could ALTER or TRUNCATE (DB-API cursor, PostgreSQL)."""
    cursor.execute(OWNED_TRAIL_SQL, [list(trail)])
    return [row[0] for row in cursor.fetchall()]
