"""Files the bridge creates that only its own user may read: secrets and the SQLite database.

Created with mode 0600 from the first byte (`os.open`), not written and then `chmod`ed: in
between, another local user could open the file and keep reading it after the chmod.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PRIVATE = 0o600


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path`, readable and writable by the bridge's user only."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(path, PRIVATE)  # a file that already existed keeps its mode through O_CREAT


def create_private(path: Path) -> None:
    """Create `path` empty with mode 0600 unless it exists.

    For the SQLite database: SQLite opens an existing file as it is (an empty one is an empty
    database) and gives its -wal and -shm files the database file's mode.
    """
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE))
