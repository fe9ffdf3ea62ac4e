"""End to end: a real django-q2 cluster delivers 1,000 messages to a PEP sandbox failing 30%.

The cluster runs as `manage.py qcluster` subprocesses on a file SQLite database of its own, so
this test sets that database up with subprocesses too and reads it with the sqlite3 module.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from pepbridge.sandbox.server import SandboxServer

pytestmark = [pytest.mark.e2e, pytest.mark.own_sqlite]

MESSAGES, PLAYERS = 1000, 50
MANAGE = str(Path(settings.BASE_DIR) / "manage.py")

ENQUEUE = f"""
from datetime import datetime, timedelta, UTC
from django.db import transaction
from events.outbox import PepMessage, enqueue
from pepbridge.pep import contract
from pepbridge.sandbox.examples import example

path = contract.endpoint("money_transaction").path
start = datetime(2026, 1, 1, tzinfo=UTC)
for chunk in range(0, {MESSAGES}, 100):
    with transaction.atomic():
        for n in range(chunk, chunk + 100):
            player, seq = f"p-{{n % {PLAYERS}}}", n // {PLAYERS}
            when = start + timedelta(seconds=seq)
            body = {{**example("money_transaction"), "playerId": player,
                     "transactionId": f"mt-{{n}}", "date": when}}
            enqueue(PepMessage("money_transaction", "POST", path, body, player,
                               dedup_key=f"money:mt-{{n}}", occurred_at=when))
"""


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    server = SandboxServer(port=0, client_id="e2e", client_secret="e2e-secret")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _env(tmp_path: Path, sandbox: SandboxServer) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OUTBOX_")}
    env.update(
        DEBUG="true",
        DATABASE_URL=f"sqlite:///{tmp_path / 'e2e.sqlite3'}",
        PEPBRIDGE_VAR_DIR=str(tmp_path),
        PEP_BASE_URL=sandbox.base_url,
        PEP_CLIENT_ID="e2e",
        PEP_CLIENT_SECRET="e2e-secret",
        Q_BROKER="orm",
        Q_WORKERS="2",
        Q_POLL="0.1",
        OUTBOX_RETRY_SCHEDULE="0.2s,0.4s,0.8s",
        OUTBOX_CIRCUIT_PAUSE="0.5",
        LOG_LEVEL="warning",
    )
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, MANAGE, *args], env=env, check=True, timeout=120,
                   capture_output=True)  # fmt: skip


def _counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db, timeout=30) as conn:
        rows = conn.execute("SELECT status, COUNT(*) FROM events_outboxmessage GROUP BY status")
        return dict(rows.fetchall())


def _wait_for_delivery(db: Path, cluster: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert cluster.poll() is None, "the cluster died"
        if _counts(db).get("delivered", 0) == MESSAGES:
            return
        time.sleep(0.5)
    pytest.fail(f"not all delivered in {seconds}s: {_counts(db)}")


def test_a_cluster_delivers_every_message_once_and_in_order(tmp_path, sandbox) -> None:
    sandbox.sandbox.set_fault("*", error_rate=0.3, seed=1)
    env = _env(tmp_path, sandbox)
    _manage(env, "migrate", "--no-input")
    _manage(env, "shell", "-c", ENQUEUE)
    cluster = subprocess.Popen([sys.executable, MANAGE, "qcluster"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        _wait_for_delivery(tmp_path / "e2e.sqlite3", cluster, seconds=45)
    finally:
        cluster.terminate()
        try:
            cluster.wait(timeout=20)
        except subprocess.TimeoutExpired:
            cluster.kill()
            cluster.wait()
    records = [r for r in sandbox.sandbox.received() if r.message_type == "money_transaction"]
    accepted = [r for r in records if r.status is not None and 200 <= r.status < 300]
    ids = [r.body["transactionId"] for r in accepted]
    assert len(ids) == len(set(ids)) == MESSAGES  # every message, exactly once
    assert len(records) > MESSAGES  # the 30% failures really happened and were retried
    by_player: dict[str, list[int]] = defaultdict(list)
    for record in accepted:
        by_player[record.body["playerId"]].append(int(record.body["transactionId"][3:]))
    assert len(by_player) == PLAYERS
    assert all(seqs == sorted(seqs) for seqs in by_player.values())
