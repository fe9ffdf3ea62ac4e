"""The two-role setup: the app role cannot disable, rewrite or truncate the audit trail.

The PostgreSQL test builds what docs/security.md tells production to build, in a scratch
database: `db_roles setup` as the admin, `manage.py migrate` with MIGRATE_DATABASE_URL (owner)
and DATABASE_URL (app), then connects as each role with psycopg.
"""

from __future__ import annotations

import io
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from psycopg import errors

from reconciliation import db_roles

TRAIL = (
    "reconciliation_auditstep",
    "reconciliation_reconciliationitem",
    "reconciliation_reconciliationrequest",
)


def test_the_trail_is_every_append_only_table() -> None:
    assert db_roles.trail_tables() == list(TRAIL)


def test_it_refuses_a_role_name_that_is_not_a_plain_identifier() -> None:
    with pytest.raises(db_roles.RoleNameError):
        db_roles.setup_sql(owner='o"; DROP TABLE x; --', app="app", database="db")
    with pytest.raises(db_roles.RoleNameError):
        db_roles.setup_sql(owner="same", app="same", database="db")


def test_the_grants_leave_the_app_role_only_select_and_insert_on_the_trail() -> None:
    sql = "\n".join(db_roles.grant_sql(app="app", trail=TRAIL))
    for table in TRAIL:
        assert f'REVOKE ALL ON TABLE "{table}" FROM "app";' in sql
        assert f'GRANT SELECT, INSERT ON TABLE "{table}" TO "app";' in sql
    assert 'GRANT SELECT ON TABLE "django_migrations" TO "app";' in sql


@pytest.mark.parametrize(
    ("database_url", "migrate_url"),
    [
        ("postgres://app@/pepbridge", "postgres://owner@/elsewhere"),
        ("sqlite:///var/x.sqlite3", "sqlite:///var/x.sqlite3"),
    ],
)
def test_settings_refuse_a_migrate_url_that_is_not_the_same_postgresql_database(
    database_url: str, migrate_url: str, tmp_path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "MIGRATE_"))}
    env.update(DATABASE_URL=database_url, MIGRATE_DATABASE_URL=migrate_url)
    env["PEPBRIDGE_VAR_DIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", "import pepbridge.settings"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "MIGRATE_DATABASE_URL must name DATABASE_URL's PostgreSQL database" in done.stderr


def test_the_command_prints_the_setup_for_a_superuser() -> None:
    out = io.StringIO()
    call_command("db_roles", "setup", "--owner", "o", "--app", "a", "--database", "db", stdout=out)
    sql = out.getvalue()
    assert 'ALTER DATABASE "db" OWNER TO "o";' in sql
    assert (
        'ALTER DEFAULT PRIVILEGES FOR ROLE "o" IN SCHEMA public '
        'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "a";'
    ) in sql
    with pytest.raises(CommandError, match="plain lower-case"):
        call_command("db_roles", "setup", "--owner", "O;", "--app", "a", "--database", "db")


@dataclass
class Role:
    name: str
    url: str
    conninfo: dict[str, Any]

    def connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(**self.conninfo, autocommit=True)


def _admin() -> dict[str, Any]:
    db = settings.DATABASES["default"]
    return {
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
    }


def _role(name: str, password: str, dbname: str) -> Role:
    """The role over the admin's socket/host; over TCP with its password if that is refused
    (peer authentication lets no role in that is not an OS user)."""
    admin = _admin()
    socket = {"host": admin["host"], "port": admin["port"], "user": name, "dbname": dbname}
    try:
        psycopg.connect(**socket, password=password).close()
        host = f"@/{dbname}?host={quote(admin['host'] or '/var/run/postgresql')}"
        return Role(name, f"postgres://{name}:{password}{host}", {**socket, "password": password})
    except psycopg.OperationalError:
        tcp = {"host": "127.0.0.1", "port": admin["port"] or 5432, "user": name, "dbname": dbname}
        url = f"postgres://{name}:{password}@127.0.0.1:{tcp['port']}/{dbname}"
        return Role(name, url, {**tcp, "password": password})


@pytest.fixture
def two_roles() -> Iterator[tuple[Role, Role]]:
    """A scratch database set up by `db_roles setup` and migrated by the owner."""
    suffix = secrets.token_hex(4)
    dbname, owner, app = f"pb_roles_{suffix}", f"pb_owner_{suffix}", f"pb_app_{suffix}"
    admin = psycopg.connect(**_admin(), dbname="postgres", autocommit=True)
    can = admin.execute(
        "SELECT rolsuper OR (rolcreaterole AND rolcreatedb) FROM pg_roles "
        "WHERE rolname = current_user"
    ).fetchone()
    if not (can and can[0]):
        pytest.skip("the test database role may not create roles and databases")
    admin.execute(f'CREATE DATABASE "{dbname}"')
    try:
        with psycopg.connect(**_admin(), dbname=dbname, autocommit=True) as in_db:
            for statement in db_roles.setup_sql(owner=owner, app=app, database=dbname):
                in_db.execute(statement)
            passwords = {name: secrets.token_hex(12) for name in (owner, app)}
            for name, password in passwords.items():
                in_db.execute(f"ALTER ROLE \"{name}\" PASSWORD '{password}'")
        roles = (_role(owner, passwords[owner], dbname), _role(app, passwords[app], dbname))
        _migrate(owner_url=roles[0].url, app_url=roles[1].url)
        yield roles
    finally:
        _drop_database(admin, dbname)
        for name in (owner, app):
            admin.execute(f'DROP ROLE IF EXISTS "{name}"')
        admin.close()


def _drop_database(admin: psycopg.Connection[Any], dbname: str) -> None:
    """Drop it once the roles' sessions have gone (WITH (FORCE) would need pg_signal_backend)."""
    for _ in range(50):
        try:
            admin.execute(f'DROP DATABASE IF EXISTS "{dbname}"')
            return
        except errors.ObjectInUse:
            time.sleep(0.2)
    admin.execute(f'DROP DATABASE IF EXISTS "{dbname}"')


def _migrate(*, owner_url: str, app_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "MIGRATE_"))}
    env.update(DATABASE_URL=app_url, MIGRATE_DATABASE_URL=owner_url)
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "granted" in done.stdout


REQUEST_INSERT = (
    "INSERT INTO reconciliation_reconciliationrequest "
    "(source, request_id, outcome, received_at, cause, payload, fingerprint, errors) "
    "VALUES ('reconciliation_api', 'r-1', 'accepted', now(), 'pep:test', '{}', '', '{}')"
)
# Table names from the constant above, nothing from outside.
REFUSED = [
    *(f"UPDATE {t} SET id = id" for t in TRAIL),  # noqa: S608
    *(f"DELETE FROM {t}" for t in TRAIL),  # noqa: S608
    *(f"TRUNCATE {t} CASCADE" for t in TRAIL),
    *(f"ALTER TABLE {t} DISABLE TRIGGER ALL" for t in TRAIL),
    *(f"ALTER TABLE {t} DISABLE TRIGGER {t}_append_only" for t in TRAIL),
    "INSERT INTO django_migrations (app, name, applied) VALUES ('x', 'y', now())",
    "CREATE TABLE sneaky (id int)",
]


@pytest.mark.postgres
def test_the_app_role_cannot_disable_update_delete_or_truncate_the_trail(
    two_roles: tuple[Role, Role],
) -> None:
    owner, app = two_roles
    with app.connect() as conn:
        conn.execute(REQUEST_INSERT)
        assert conn.execute("SELECT count(*) FROM reconciliation_reconciliationrequest").fetchone()
        for statement in REFUSED:
            # Privileges, not the append-only trigger (which raises the same SQLSTATE).
            with pytest.raises(
                errors.InsufficientPrivilege, match=r"permission denied|must be owner"
            ):
                conn.execute(statement)
        assert db_roles.owned_trail_tables(conn.cursor(), TRAIL) == []
    with owner.connect() as conn:
        assert db_roles.owned_trail_tables(conn.cursor(), TRAIL) == list(TRAIL)


@pytest.mark.postgres
def test_the_app_role_does_the_normal_writes(two_roles: tuple[Role, Role]) -> None:
    _, app = two_roles
    with app.connect() as conn:
        conn.execute(
            "INSERT INTO django_session (session_key, session_data, expire_date) "
            "VALUES ('k', 'd', now())"
        )
        conn.execute("UPDATE django_session SET session_data = 'e' WHERE session_key = 'k'")
        conn.execute("DELETE FROM django_session WHERE session_key = 'k'")
        conn.execute("UPDATE reconciliation_repairstate SET status = 'new' WHERE false")
        conn.execute("UPDATE players_player SET city = '' WHERE false")
        conn.execute("SELECT count(*) FROM django_migrations")


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_deploy_check_warns_when_the_app_role_owns_the_trail_and_only_when_asked() -> None:
    """Warns exactly when the role the suite connects with owns the trail.

    The usual test database is owned by that role (the production mistake); CI's app-role step
    connects as a role that does not own it, and there the check must stay quiet.
    """
    with connection.cursor() as cursor:
        owns_trail = bool(db_roles.owned_trail_tables(cursor, TRAIL))
    asked = {m.id for m in run_checks(include_deployment_checks=True, databases=["default"])}
    assert ("reconciliation.W001" in asked) is owns_trail
    # Without --database the check queries nothing (Django's rule for database checks).
    assert "reconciliation.W001" not in {m.id for m in run_checks(include_deployment_checks=True)}
