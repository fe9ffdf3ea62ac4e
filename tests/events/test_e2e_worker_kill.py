"""End to end: an `outbox_drain` worker killed with SIGKILL mid-batch loses nothing.

A real worker process sends to the PEP sandbox over loopback (each answer slowed, so a batch is
in flight), is killed with no chance to clean up, and a second worker takes the dead one's rows:
on this host it sees the claimant's process is gone and frees its leases at once
(claim.release_dead); a worker elsewhere would wait for the lease to run out. Like
test_e2e_cluster.py (whose fixture and helpers this reuses), the outbox is a file SQLite
database of the subprocesses', set up by them and read with sqlite3: the test never touches
Django's test database, so it has no `django_db` mark.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest

from events.services.delivery import unrecorded_bound
from pepbridge.sandbox.server import SandboxServer
from tests.events import test_e2e_cluster as cluster

pytestmark = [pytest.mark.e2e, pytest.mark.own_sqlite]
sandbox = cluster.sandbox  # the same loopback PEP sandbox fixture

MESSAGES, PLAYERS = 60, 6
DELAY_MS = 50  # each sandbox answer takes this long, so the worker is nearly always mid-send
# Answers before the kill: with 2 in flight at 50 ms, about 1.2 s of sends, so one chunk was
# written (every FLUSH_SECONDS) and the next is half full.
KILL_AFTER = 48
# The lease must outlive the longest request plus delivery's 5 s margin (connect + read + 5),
# or a worker releases every row it claims unsent; 10 s leaves a 2.5 s sending window.
LEASE_SECONDS, CONNECT_TIMEOUT, READ_TIMEOUT = 10, 0.5, 2.0
# A SIGKILL re-sends at most the unwritten chunk plus the requests in flight (docs/delivery.md).
IN_FLIGHT = 2  # the worker's OUTBOX_MAX_IN_FLIGHT
RESEND_BOUND = unrecorded_bound(IN_FLIGHT)

ENQUEUE = f"""
from datetime import datetime, timedelta, UTC
from django.db import transaction
from events.outbox import PepMessage, enqueue
from pepbridge.pep import contract
from pepbridge.sandbox.examples import example

path = contract.endpoint("money_transaction").path
start = datetime(2026, 1, 1, tzinfo=UTC)
with transaction.atomic():
    for n in range({MESSAGES}):
        player, when = f"p-{{n % {PLAYERS}}}", start + timedelta(seconds=n)
        body = {{**example("money_transaction"), "playerId": player,
                 "transactionId": f"mt-{{n}}", "date": when}}
        enqueue(PepMessage("money_transaction", "POST", path, body, player,
                           dedup_key=f"mt-{{n}}", occurred_at=when))
"""


def _worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    args = [sys.executable, cluster.MANAGE, "outbox_drain", "--forever", "--poll", "0.2"]
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.kill()
    worker.wait(timeout=10)


def _rows(db: Path) -> dict[str, tuple[str, str, str | None]]:
    """transactionId -> (status, claimed_by, lease_expires_at) of every outbox row."""
    with sqlite3.connect(db, timeout=30) as conn:
        rows = conn.execute(
            "SELECT dedup_key, status, claimed_by, lease_expires_at FROM events_outboxmessage"
        )
        return {key: (status, by, lease) for key, status, by, lease in rows.fetchall()}


def _answered(server: SandboxServer) -> list:
    return server.sandbox.received(message_type="money_transaction")


def _wait_until(
    condition, seconds: float, worker: subprocess.Popen[bytes], what: str, every: float
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert worker.poll() is None, f"the worker died while waiting for {what}"
        if condition():
            return
        time.sleep(every)
    pytest.fail(f"no {what} within {seconds} s")


def _moment(text: str) -> datetime:
    """A DateTimeField value as SQLite stores it (UTC, no offset)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_a_worker_killed_mid_batch_loses_nothing_and_resends_only_its_unwritten_sends(
    tmp_path, sandbox
) -> None:
    sandbox.sandbox.set_fault("*", delay_ms=DELAY_MS)
    env = cluster._env(tmp_path, sandbox)
    env.update(
        OUTBOX_LEASE_SECONDS=str(LEASE_SECONDS),
        OUTBOX_MAX_IN_FLIGHT=str(IN_FLIGHT),
        PEP_CONNECT_TIMEOUT=str(CONNECT_TIMEOUT),
        PEP_READ_TIMEOUT=str(READ_TIMEOUT),
        OUTBOX_KICK_ON_COMMIT="false",  # no django-q2 cluster here: the workers poll
    )
    db = tmp_path / "e2e.sqlite3"
    cluster._manage(env, "migrate", "--no-input")
    cluster._manage(env, "shell", "-c", ENQUEUE)

    first = _worker(env)
    second = None
    try:
        _wait_until(
            lambda: len(_answered(sandbox)) >= KILL_AFTER, 20, first, "first answers", every=0.005
        )
        os.kill(first.pid, signal.SIGKILL)  # no cleanup: no release, no last chunk written
        first.wait(timeout=10)
        killed_at = datetime.now(UTC)
        time.sleep(DELAY_MS / 1000 + 0.5)  # let the sandbox finish the request left in flight

        rows = _rows(db)
        statuses = Counter(status for status, _, _ in rows.values())
        assert len(rows) == MESSAGES and set(statuses) == {"delivered", "pending"}  # none lost
        # The killed worker's claimed rows are still pending and leased: nobody may send them yet.
        token = f":{first.pid}:"
        leases = {key: _moment(lease) for key, (status, by, lease) in rows.items()
                  if status == "pending" and token in by}  # fmt: skip
        assert leases and all(lease > killed_at for lease in leases.values())
        answered_before = len(_answered(sandbox))
        sent_before = {record.body["transactionId"] for record in _answered(sandbox)}
        unwritten = {key for key in sent_before if rows[key][0] != "delivered"}
        assert unwritten <= set(leases)  # PEP got them, but the outcome was never written
        assert len(unwritten) <= RESEND_BOUND

        second = _worker(env)
        _wait_until(
            lambda: all(status == "delivered" for status, _, _ in _rows(db).values()),
            60, second, "every row delivered", every=0.2,
        )  # fmt: skip
    finally:
        _stop(first)
        if second is not None:
            _stop(second)

    records = _answered(sandbox)
    assert all(200 <= record.status < 300 for record in records)
    times = Counter(record.body["transactionId"] for record in records)
    assert set(times) == {f"mt-{n}" for n in range(MESSAGES)}  # every message reached PEP
    resent = {key for key, count in times.items() if count > 1}
    assert resent == unwritten and set(times.values()) <= {1, 2}  # at least once, no more
    assert len(records) - MESSAGES <= RESEND_BOUND
    resends = records[answered_before:]  # the second worker's sends
    for key in leases:  # the dead worker's rows went out again only once it was dead
        assert min(r.time for r in resends if r.body["transactionId"] == key) >= killed_at
    first_seen: dict[str, list[int]] = defaultdict(list)
    for key in dict.fromkeys(record.body["transactionId"] for record in records):
        first_seen[f"p-{int(key[3:]) % PLAYERS}"].append(int(key[3:]))
    assert len(first_seen) == PLAYERS
    assert all(seqs == sorted(seqs) for seqs in first_seen.values())  # each player in order
