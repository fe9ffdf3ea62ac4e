"""Lanes: one row per player with pending rows, kept in step with the outbox; a live migration."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from events import lanes, selectors, services
from events.models import OutboxLane, OutboxMessage
from events.services import claim
from tests.events.outbox_fixtures import BASE, message, put, sent_bodies

URL = f"{BASE}/rx-api/test/game_round"
Status = OutboxMessage.Status


def drain(pep_client) -> int:
    return services.drain(max_seconds=10, worker="w1", client=pep_client, sleep=lambda s: None)


@pytest.mark.django_db
def test_enqueue_creates_the_players_lane_in_the_same_transaction() -> None:
    put(message("p-1", 1), message("p-1", 2), message(None, 1))
    assert list(OutboxLane.objects.values_list("player_id", flat=True)) == ["p-1"]
    with pytest.raises(RuntimeError), transaction.atomic():
        put(message("p-2", 1))
        raise RuntimeError
    assert not OutboxLane.objects.filter(player_id="p-2").exists()


@pytest.mark.django_db
def test_an_emptied_lane_is_dropped_and_a_new_row_makes_a_new_one(
    outbox_pep, outbox_client
) -> None:
    outbox_pep.post(URL, status=200)
    put(message("p-1", 1))
    drain(outbox_client)
    assert not OutboxLane.objects.exists()
    put(message("p-1", 2))
    assert drain(outbox_client) == 1


def _count_claims(monkeypatch) -> list[int]:
    """The number of rows of each claim the worker makes from now on."""
    claims: list[int] = []
    real = services.delivery.claim_lanes

    def counting(**kwargs):
        claim = real(**kwargs)
        claims.append(len(claim.rows))
        return claim

    monkeypatch.setattr(services.delivery, "claim_lanes", counting)
    return claims


@pytest.mark.django_db
def test_a_busy_player_is_sent_back_to_back_in_one_pass(
    outbox_pep, outbox_client, settings, monkeypatch
):
    settings.OUTBOX_BATCH_SIZE = 100
    outbox_pep.post(URL, status=200)
    put(*[message("p-hot", n) for n in range(60)])
    claims = _count_claims(monkeypatch)
    assert drain(outbox_client) == 60
    assert claims[0] == 60  # the whole run in one claim, not one row per claim
    seqs = [int(b.decode().split('"seq":')[1].rstrip("}")) for b in sent_bodies(outbox_pep)]
    assert seqs == list(range(60))


@pytest.mark.django_db
def test_a_busy_players_sends_do_not_each_trigger_a_claim(
    outbox_pep, outbox_client, settings, monkeypatch
):
    """Its next rows are already in hand: a claim after every send only took the CPU its
    sends needed (half a lone busy player's rate in bench/delivery.py)."""
    settings.OUTBOX_BATCH_SIZE = 100

    def slow(request):
        time.sleep(0.005)  # each result reaches the worker's thread on its own
        return (200, {}, "ok")

    outbox_pep.add_callback("POST", URL, callback=slow)
    put(*[message("p-hot", n) for n in range(30)])
    claims = _count_claims(monkeypatch)
    assert drain(outbox_client) == 30
    assert claims[0] == 30
    # The run's claim, one when the lane finished (still ours: nothing), the next pass's.
    assert len(claims) <= 4, claims


@pytest.mark.django_db
def test_many_lanes_sharing_a_claim_each_take_a_run_not_one_row() -> None:
    """A backlog of many players: each leased lane brings its run of rows (up to
    LANE_RUN_MIN), so it is handed back once per run, not once per row."""
    put(*[message(f"p-{player}", n) for n in range(4) for player in range(50)])
    taken = claim.claim_lanes(worker="w1", limit=20, now=timezone.now(), max_lanes=20)
    assert len(taken.lanes) == 20
    by_lane: dict[str, list[int]] = {}
    for row in taken.rows:
        by_lane.setdefault(row.lane, []).append(json.loads(row.body_bytes())["seq"])
    assert sorted(by_lane) == sorted(taken.lanes)
    assert all(seqs == [0, 1, 2, 3] for seqs in by_lane.values()), by_lane


@pytest.mark.django_db
def test_a_replay_wakes_the_players_lane(outbox_pep, outbox_client) -> None:
    outbox_pep.post(URL, status=400)
    outbox_pep.post(URL, status=200)
    (row,) = put(message("p-1", 1))
    drain(outbox_client)
    assert OutboxMessage.objects.get().status == Status.FAILED
    assert not OutboxLane.objects.exists()
    assert services.replay_failed(actor="staff@x", message_ids=[row.pk]) == 1
    assert OutboxLane.objects.filter(player_id="p-1").exists()
    assert drain(outbox_client) == 1


@pytest.mark.django_db
def test_repair_gives_a_lane_to_pending_rows_written_without_one() -> None:
    put(message("p-1", 1), message("p-2", 1))
    OutboxLane.objects.all().delete()  # as rows written by code older than the lanes
    assert lanes.repair(since=timezone.now() - timedelta(minutes=15)) == 2
    assert set(OutboxLane.objects.values_list("player_id", flat=True)) == {"p-1", "p-2"}
    assert lanes.repair() == 0


@pytest.mark.django_db(transaction=True)
def test_a_deploy_with_pending_rows_loses_and_reorders_nothing(outbox_pep, outbox_client) -> None:
    executor = MigrationExecutor(connection)
    before = [("events", "0005_outbox_trigger_created_and_attempt_outcome_indexes")]
    after = executor.loader.graph.leaf_nodes("events")
    executor.migrate(before)
    old = executor.loader.project_state(before).apps.get_model("events", "OutboxMessage")
    now = timezone.now()
    for n in range(12):
        player = f"p-{n % 3}"
        body = f'{{"playerId":"{player}","seq":{n}}}'
        old.objects.create(
            message_type="game_round", method="POST", path="/rx-api/test/game_round",
            body=body, fingerprint=str(n), player_id=player,
            occurred_at=now - timedelta(minutes=30 - n), next_attempt_at=now - timedelta(seconds=n),
        )  # fmt: skip
    old.objects.filter(player_id="p-2").update(next_attempt_at=now + timedelta(hours=1))
    executor = MigrationExecutor(connection)
    executor.migrate(after)
    assert set(OutboxLane.objects.values_list("player_id", flat=True)) == {"p-0", "p-1", "p-2"}
    assert OutboxLane.objects.get(player_id="p-2").next_attempt_at > now  # still backing off
    outbox_pep.post(URL, status=200)
    assert drain(outbox_client) == 8
    seen: dict[str, list[int]] = {}
    for body in sent_bodies(outbox_pep):
        text = body.decode()
        seen.setdefault(text.split('"playerId":"')[1][:3], []).append(
            int(text.split('"seq":')[1][:-1])
        )
    assert seen == {"p-0": [0, 3, 6, 9], "p-1": [1, 4, 7, 10]}
    assert OutboxMessage.objects.filter(status=Status.PENDING, player_id="p-2").count() == 4


@pytest.mark.django_db
def test_health_counts_are_exact_when_small_and_estimated_beyond(monkeypatch) -> None:
    put(*[message(f"p-{n}", 1) for n in range(10)])
    assert selectors.delivery_health()["pending"] == 10
    monkeypatch.setattr(selectors, "EXACT_COUNT_UP_TO", 5)
    count, estimated = selectors.count_fast(OutboxMessage.objects.filter(status=Status.PENDING))
    if connection.vendor == "postgresql":
        assert estimated and count >= 6  # the planner's figure, never below what was seen
    else:
        assert (count, estimated) == (10, False)  # SQLite has no estimate: exact


@pytest.mark.django_db
def test_the_claimed_rows_in_hand_match_what_the_claim_wrote() -> None:
    put(*[message(f"p-{n % 3}", n) for n in range(9)])
    now = timezone.now()
    got = claim.claim_lanes(worker="w1", limit=9, now=now)
    stored = {row.pk: (row.claimed_by, row.lease_expires_at) for row in OutboxMessage.objects.all()}
    assert len(got.rows) == 9
    assert all(stored[row.pk] == (row.claimed_by, row.lease_expires_at) for row in got.rows)
    assert {row.claimed_by for row in got.rows} == {got.token}
    assert [row.occurred_at for row in got.rows] == sorted(row.occurred_at for row in got.rows)


@pytest.mark.django_db
def test_a_row_leased_by_another_claimant_meanwhile_is_left_out_of_the_claim(monkeypatch):
    """A worker from before the lanes claims rows directly: the compare-and-set keeps it out."""
    first, second = put(message("p-1", 1), message("p-2", 1))
    real = claim._pick

    def racing(runs, gate, now):
        picked = real(runs, gate, now)
        OutboxMessage.objects.filter(pk=second.pk).update(
            claimed_by="old-worker", lease_expires_at=now + timedelta(minutes=2)
        )
        return picked

    monkeypatch.setattr(claim, "_pick", racing)
    got = claim.claim_lanes(worker="w1", limit=10, now=timezone.now())
    assert [row.pk for row in got.rows] == [first.pk]
    assert OutboxMessage.objects.get(pk=second.pk).claimed_by == "old-worker"


@pytest.mark.django_db
def test_a_lane_whose_rows_are_all_delivered_is_dropped_when_handed_back(
    outbox_pep, outbox_client, monkeypatch
) -> None:
    """Not left for the next claim to find empty (a DELETE each inside the claim's lock)."""
    outbox_pep.post(URL, status=200)
    put(*[message(f"p-{n % 4}", n) for n in range(12)])
    found_empty = []
    real = claim._park

    def park(lane, head, now, gate):
        if head is None:
            found_empty.append(lane.player_id)
        return real(lane, head, now, gate)

    monkeypatch.setattr(claim, "_park", park)
    assert drain(outbox_client) == 12
    assert not OutboxLane.objects.exists()
    assert found_empty == []


@pytest.mark.django_db
def test_handing_back_keeps_a_lane_an_enqueue_touched_or_with_rows_left() -> None:
    now = timezone.now()
    put(message("p-busy", 1))
    OutboxMessage.objects.update(status=Status.DELIVERED)
    put(message("p-busy", 2))  # still pending
    held = (("p-busy", 0, "t1"), ("p-bumped", 3, "t1"), ("p-done", 0, "t1"), ("p-other", 0, "t2"))
    for player, version, token in held:
        OutboxLane.objects.update_or_create(
            player_id=player,
            defaults={
                "version": version,
                "claimed_by": token,
                "lease_expires_at": now,
                "next_attempt_at": now,
            },
        )
    claim.release_lanes("t1", {"p-busy": 0, "p-bumped": 2, "p-done": 0, "p-other": 0}, {})
    lanes_left = dict(OutboxLane.objects.values_list("player_id", "claimed_by"))
    # p-busy and p-bumped freed and due; p-done dropped; p-other is another claim's, untouched.
    assert lanes_left == {"p-busy": "", "p-bumped": "", "p-other": "t2"}


@pytest.mark.django_db
def test_a_chunks_lanes_are_handed_back_in_its_outcomes_transaction(
    outbox_pep, outbox_client, monkeypatch
) -> None:
    """One commit per chunk, not two: each statement lets the send threads take the
    interpreter lock, and the worker's thread then waits for it. After the outcomes, so no
    other worker finds a handed-back lane's delivered rows still leased."""
    outbox_pep.post(URL, status=200)
    monkeypatch.setattr(services.delivery, "FLUSH_SECONDS", 60.0)  # chunks cut by count only
    put(*[message(f"p-{n % 5}", n) for n in range(20)])
    writes: list[object] = []
    real_record_once = services.delivery._record_once
    real_release = services.delivery.release_lanes
    seen: list[tuple[bool, int]] = []

    def record_once(results, worker, then=None):
        def inside():
            writes.append(connection.atomic_blocks[-1])
            if then is not None:
                then()

        real_record_once(results, worker, inside)

    def release(token, ready, parked):
        pending = OutboxMessage.objects.filter(lane__in=[*ready, *parked], status=Status.PENDING)
        seen.append((bool(writes) and writes[-1] in connection.atomic_blocks, pending.count()))
        real_release(token, ready, parked)

    monkeypatch.setattr(services.delivery, "_record_once", record_once)
    monkeypatch.setattr(services.delivery, "release_lanes", release)
    assert drain(outbox_client) == 20
    assert seen and all(same for same, _ in seen)
    assert all(pending == 0 for _, pending in seen)  # the outcomes were written first


@pytest.mark.django_db
def test_a_lane_whose_head_waits_for_a_retry_is_parked_with_its_later_rows_released(
    outbox_pep, outbox_client, settings, monkeypatch
) -> None:
    """Parked at once until the head's retry, not made ready for a claim that would only find
    the head not due and park it then (one wasted claim per failing lane)."""
    settings.OUTBOX_QUICK_RETRIES = 0
    outbox_pep.post(URL, status=500)
    rows = put(*[message("p-1", n) for n in range(5)])
    parked_by_a_claim: list[str] = []
    real_park = claim._park

    def park(lane, head, now, gate):
        parked_by_a_claim.append(lane.player_id)
        return real_park(lane, head, now, gate)

    monkeypatch.setattr(claim, "_park", park)
    assert drain(outbox_client) == 1  # the head, answered 500; the other four may not overtake it
    head = OutboxMessage.objects.get(pk=rows[0].pk)
    assert head.status == Status.PENDING and head.attempts == 1
    lane = OutboxLane.objects.get(player_id="p-1")
    assert (lane.next_attempt_at, lane.claimed_by) == (head.next_attempt_at, "")
    assert not OutboxMessage.objects.exclude(claimed_by="").exists()  # later rows released
    assert parked_by_a_claim == []


@pytest.mark.django_db
def test_a_chunk_hands_its_lanes_back_before_it_locks_the_endpoints_counters(
    outbox_pep, outbox_client, monkeypatch
) -> None:
    """The endpoint's row is written by every worker's chunks: it must not be held while the
    hand-back waits for a lane that an enqueue's transaction holds."""
    outbox_pep.post(URL, status=200)
    monkeypatch.setattr(services.delivery, "FLUSH_SECONDS", 60.0)  # chunks cut by count only
    put(*[message(f"p-{n % 5}", n) for n in range(20)])
    order: list[str] = []
    real_release, real_count = services.delivery.release_lanes, services.endpoints.record

    def release(*args, **kwargs):
        order.append("lanes")
        return real_release(*args, **kwargs)

    def count(*args, **kwargs):
        order.append("endpoint")
        return real_count(*args, **kwargs)

    monkeypatch.setattr(services.delivery, "release_lanes", release)
    monkeypatch.setattr(services.endpoints, "record", count)
    assert drain(outbox_client) == 20
    assert "endpoint" in order and "lanes" in order
    assert order.index("lanes") < order.index("endpoint")
