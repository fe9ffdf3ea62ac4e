"""A throwaway PostgreSQL database for a benchmark, reached the same way as `.ci/run` reaches it.

The machines differ in authentication (trust everywhere, or peer on the socket and password on
TCP), so, like `.ci/postgres.sh`: start the cluster if it is down, create a role named after the
OS user and a fresh database as the `postgres` OS user, and connect over the Unix socket.
A benchmark that cannot get a database says why instead of quietly measuring SQLite.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shlex
import subprocess
import time
from pathlib import Path

SOCKET_DIR = "/var/run/postgresql"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL could be reached or prepared on this machine."""


def _as_postgres(sql: str) -> subprocess.CompletedProcess[str]:
    psql = f"psql -X -q -v ON_ERROR_STOP=1 -h {SOCKET_DIR} -d postgres -c {shlex.quote(sql)}"
    if os.geteuid() == 0:
        argv = ["su", "postgres", "-s", "/bin/sh", "-c", psql]
    else:
        argv = ["sudo", "-n", "-u", "postgres", "/bin/sh", "-c", psql]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def _running() -> bool:
    done = subprocess.run(["pg_isready", "-q", "-h", SOCKET_DIR], capture_output=True)
    return done.returncode == 0


def ensure_running() -> None:
    """Start the machine's cluster when it is down (the command `.ci/run` uses)."""
    if _running():
        return
    versions = sorted(Path("/etc/postgresql").glob("*")) if Path("/etc/postgresql").exists() else []
    if not versions:
        raise PostgresUnavailable("no PostgreSQL cluster under /etc/postgresql")
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", versions[0].name, "main", "start"],
        capture_output=True,
    )
    for _ in range(30):
        if _running():
            return
        time.sleep(1)
    raise PostgresUnavailable("PostgreSQL did not come up")


def fresh_database(name: str) -> str:
    """Drop and create database `name` owned by the current OS user; return its DATABASE_URL."""
    ensure_running()
    role = getpass.getuser()
    steps = (
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') "
        f'THEN CREATE ROLE "{role}" LOGIN CREATEDB; END IF; END $$;',
        f"DROP DATABASE IF EXISTS {name} WITH (FORCE);",
        f'CREATE DATABASE {name} OWNER "{role}";',
    )
    for sql in steps:
        done = _as_postgres(sql)
        if done.returncode != 0:
            raise PostgresUnavailable(f"{sql.split()[0]} failed: {done.stderr.strip()[:200]}")
    return f"postgres://{role}@/{name}?host={SOCKET_DIR}"


def drop_database(name: str) -> None:
    """Best effort: a leftover database is harmless, an exception here would hide the figures."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        _as_postgres(f"DROP DATABASE IF EXISTS {name} WITH (FORCE);")
