"""Secret files and the SQLite database are created readable by the bridge's user only."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from pepbridge.private_files import create_private, write_private

BASE_DIR = Path(__file__).resolve().parents[2]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_secret_file_is_0600_from_its_first_byte(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(os, "chmod", lambda *args, **kwargs: None)  # no fixing up afterwards
    path = tmp_path / "dev-secrets" / "secret_key"
    write_private(path, "s3cret")
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert path.read_text() == "s3cret"


def test_an_existing_file_is_left_as_it_is(tmp_path) -> None:
    path = tmp_path / "db.sqlite3"
    path.write_bytes(b"data")
    create_private(path)
    assert path.read_bytes() == b"data"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_the_sqlite_database_and_its_wal_are_0600(tmp_path) -> None:
    database = tmp_path / "bridge.sqlite3"
    script = (
        "import django; django.setup()\n"
        "from django.db import connection\n"
        "with connection.cursor() as c: c.execute('CREATE TABLE t (x int)')\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "pepbridge.settings",
        "DATABASE_URL": f"sqlite:///{database}",
        "PEPBRIDGE_VAR_DIR": str(tmp_path / "var"),
        "PYTHONPATH": str(BASE_DIR),
    }
    subprocess.run([sys.executable, "-c", script], env=env, cwd=BASE_DIR, check=True, timeout=120)
    assert mode(database) == 0o600
    for extra in tmp_path.glob("bridge.sqlite3-*"):  # -wal, -shm while open
        assert mode(extra) == 0o600
