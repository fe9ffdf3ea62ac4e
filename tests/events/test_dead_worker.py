"""A killed worker's leases on this host are freed at once; a claim takes only what it can send."""

from __future__ import annotations

import os
import socket
import subprocess

import pytest
from django.utils import timezone

from events import services
from events.models import OutboxLane, OutboxMessage
from events.services import claim as claims
from events.services import delivery
from tests.events.outbox_fixtures import BASE, message, put

URL = f"{BASE}/rx-api/test/game_round"

HOST = socket.gethostname()

needs_proc = pytest.mark.skipif(not claims._pid_namespace(), reason="no /proc PID namespace")


def _gone_pid() -> int:
    """The PID of a process that has exited and been reaped."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.mark.django_db
def test_a_claim_takes_no_more_players_than_it_has_free_threads() -> None:
    put(*[message(f"p-{n}", seq) for n in range(5) for seq in range(3)])
    claim = claims.claim_lanes(worker="w1", limit=100, now=timezone.now(), max_lanes=2)
    assert len(claim.lanes) == 2
    assert {row.player_id for row in claim.rows} == set(claim.lanes)
    assert len(claim.rows) == 6  # the limit goes to the lanes taken: whole runs
    free = OutboxLane.objects.filter(claimed_by="").count()
    assert free == 3  # the other players stay claimable by another worker


@needs_proc
@pytest.mark.django_db
def test_a_dead_workers_leases_on_this_host_are_released() -> None:
    put(message("p-dead", 1), message("p-dead", 2), message("p-live", 1), message("p-far", 1))
    now = timezone.now()
    dead = claims.claim_lanes(worker=f"{HOST}:{_gone_pid()}", limit=2, now=now, max_lanes=1)
    live = claims.claim_lanes(worker=f"{HOST}:{os.getpid()}", limit=1, now=now, max_lanes=1)
    far = claims.claim_lanes(worker=f"elsewhere:{_gone_pid()}", limit=1, now=now, max_lanes=1)
    assert set(dead.lanes) | set(live.lanes) | set(far.lanes) == {"p-dead", "p-live", "p-far"}

    assert claims.release_dead(timezone.now()) == 1

    lane = OutboxLane.objects.get(player_id__in=list(dead.lanes))
    assert lane.claimed_by == "" and lane.lease_expires_at is None
    assert lane.next_attempt_at <= timezone.now()
    rows = OutboxMessage.objects.filter(pk__in=[row.pk for row in dead.rows])
    assert all(row.claimed_by == "" and row.lease_expires_at is None for row in rows)
    for kept in (live, far):  # a live process, another host: their leases stand
        assert OutboxLane.objects.get(player_id__in=list(kept.lanes)).claimed_by == kept.token
    again = claims.claim_lanes(worker="w2", limit=10, now=timezone.now())
    assert [row.pk for row in again.rows] == [row.pk for row in dead.rows]  # order kept


@needs_proc
def test_only_tokens_of_this_host_and_pid_namespace_name_a_dead_claimant() -> None:
    namespace, pid = claims._pid_namespace(), _gone_pid()
    assert claims._dead_claimant(f"{HOST}:{pid}:abc:ns{namespace}", HOST, namespace)
    assert not claims._dead_claimant(f"{HOST}:{pid}:abc:ns1", HOST, namespace)  # other namespace
    assert not claims._dead_claimant(f"{HOST}:{pid}:abc", HOST, namespace)  # no namespace
    assert not claims._dead_claimant(f"{HOST}:{os.getpid()}:abc:ns{namespace}", HOST, namespace)
    assert not claims._dead_claimant(f"w1:abc:ns{namespace}", HOST, namespace)


@pytest.mark.django_db
def test_a_finished_lane_goes_back_at_once_when_its_outcomes_are_written(
    outbox_pep, outbox_client, settings, monkeypatch
) -> None:
    settings.OUTBOX_BATCH_SIZE = 50  # = FLUSH_ROWS: the chunk is written with the lane's last row
    outbox_pep.post(URL, status=200)
    put(*[message("p-hot", n) for n in range(100)])
    passes = []
    real = delivery._pass

    def counting(*args):
        sent, wait = real(*args)
        passes.append(sent)
        return sent, wait

    monkeypatch.setattr(delivery, "_pass", counting)
    assert services.drain(max_seconds=10, worker="w1", client=outbox_client, sleep=lambda s: None)
    # One pass sends both runs: the lane is free for its next claim as soon as its rows' outcomes
    # are written, not only with the next chunk (which never came: the pass ended instead).
    assert passes[0] == 100
