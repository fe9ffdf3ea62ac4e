"""`python3 bin/dev run` as a newcomer meets it: quiet start, a banner once all is up, a clean stop.

Each test starts the real thing (migrate, demo, web, worker, PEP sandbox) on free loopback ports
with its own SQLite database, then stops it the way a person does (issue 13: Ctrl-C used to print
"stopped: worker exited; shutting down the rest" and exit 1).
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STOPPED = "pepbridge stopped ({how}): web, worker and PEP sandbox shut down."

pytestmark = [pytest.mark.e2e, pytest.mark.own_sqlite]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DevRun:
    """bin/dev run in its own process group, as a terminal's foreground job is."""

    def __init__(self, var_dir: Path, web_port: int | None = None) -> None:
        stamp = ROOT / ".venv" / ".pepbridge-installed"
        wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
        if not stamp.exists() or stamp.read_text() != wanted:
            pytest.skip("bin/dev would reinstall .venv first; run `python3 bin/dev setup`")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "PEP"))}
        env |= {
            "PEPBRIDGE_VAR_DIR": str(var_dir),
            "PORT": str(web_port or _free_port()),
            "PEP_SANDBOX_URL": f"http://127.0.0.1:{_free_port()}",
        }
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "bin/dev", "run"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop_hard()
                pytest.fail(f"no {text!r} in:\n" + "\n".join(self.lines))
            time.sleep(0.2)

    def stop_hard(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)

    def finish(self, timeout: float = 40) -> int:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop_hard()
            raise
        self.reader.join(timeout=5)
        return code


@pytest.mark.parametrize(
    ("how", "send"),
    [
        ("Ctrl-C", lambda proc: os.killpg(proc.pid, signal.SIGINT)),  # the terminal's way
        ("SIGTERM", lambda proc: proc.terminate()),  # a process manager's way
    ],
)
def test_a_quiet_start_the_banner_once_up_and_a_clean_stop(tmp_path: Path, how: str, send) -> None:
    run = DevRun(tmp_path)
    run.wait_for("pepbridge is up")
    before = len(run.lines)
    output = "\n".join(run.lines)
    assert "Applying " not in output  # there were 81 such lines
    assert re.search(r"^Database: \d+ migration\(s\) applied", output, re.M)
    assert "demo-support / " in output.rsplit("pepbridge is starting", 1)[1]  # logins, again
    up = output.rsplit("pepbridge is up", 1)[1]
    assert [a for a in ("/admin/", "/api/docs/", "/healthz", "/_sandbox/") if a not in up] == []
    send(run.proc)
    assert run.finish() == 0, "\n".join(run.lines)
    after = run.lines[before:]
    assert after[-1] == STOPPED.format(how=how)
    assert [line for line in after if "stopped" in line] == [after[-1]]
    assert not [line for line in after if "Traceback" in line or "KeyboardInterrupt" in line]


def test_a_process_that_dies_on_its_own_stops_the_rest_and_exits_1(tmp_path: Path) -> None:
    """Not a normal stop: the web server cannot listen (its port is taken), so bin/dev says so."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        run = DevRun(tmp_path, web_port=int(taken.getsockname()[1]))
        assert run.finish(timeout=120) == 1, "\n".join(run.lines)
    assert run.lines[-1] == "pepbridge stopped: web exited with code 1; the rest were shut down."
