"""The initial load through PEP's bulk migration endpoint: chunking, errors, resume, follow-ups."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from io import StringIO
from typing import Any

import pytest
import requests
import responses
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone

from events.models import OutboxMessage
from events.outbox import enqueue_many
from pepbridge.pep.client import reset_pep_client
from players import messages, migration
from players.models import MarketingConsent, MigrationChunk, MigrationError, MigrationRun, Player
from tests.players.conftest import outbox

pytestmark = pytest.mark.django_db
BASE = "https://pep.test"
URL = f"{BASE}/api/players-data/v1/migrate/batch"


@pytest.fixture(autouse=True)
def pep_settings(settings: Any) -> Iterator[None]:
    settings.PEP_BASE_URL = BASE
    settings.PEP_CLIENT_ID = "bridge"
    settings.PEP_CLIENT_SECRET = "secret"
    reset_pep_client()
    yield
    reset_pep_client()


@pytest.fixture
def pep(pep_http: responses.RequestsMock) -> responses.RequestsMock:
    pep_http.add(responses.POST, f"{BASE}/api/oauth/v1/token", json={"accessToken": "tok"})
    return pep_http


def make_players(count: int, **fields: Any) -> list[Player]:
    start = Player.objects.count()
    return [
        Player.objects.create(player_id=f"p-{start + i}", first_name="Anna", country="CH", **fields)
        for i in range(count)
    ]


def sent_players(call: Any) -> list[str]:
    assert call.request.headers["Content-Encoding"] == "gzip"
    body = json.loads(gzip.decompress(call.request.body))
    return [p["playerId"] for p in body["players"]]


def accept(request: Any, invalid: tuple[str, ...] = ()) -> tuple[int, dict, str]:
    players = json.loads(gzip.decompress(request.body))["players"]
    errors = [
        {"playerId": p["playerId"], "errors": {"email": ["required"]}}
        for p in players
        if p["playerId"] in invalid
    ]
    answer = {"migrationTasksId": f"task-{players[0]['playerId']}", "invalidPlayers": errors}
    return 200, {}, json.dumps(answer)


def migration_calls(pep: responses.RequestsMock) -> list[Any]:
    return [c for c in pep.calls if c.request.url == URL]


def test_it_sends_players_in_chunks_and_records_each_task_id(pep):
    make_players(5)
    pep.add_callback(responses.POST, URL, callback=accept)
    report = migration.migration_send(migration.migration_run_for({}), max_players=2)
    calls = migration_calls(pep)
    assert [sent_players(c) for c in calls] == [["p-0", "p-1"], ["p-2", "p-3"], ["p-4"]]
    chunks = list(MigrationChunk.objects.order_by("sequence"))
    assert [c.task_id for c in chunks] == ["task-p-0", "task-p-2", "task-p-4"]
    assert {c.status for c in chunks} == {"accepted"}
    assert (report.chunks_sent, report.players_sent) == (3, 5)
    assert report.run.status == "finished"


def test_it_sends_each_players_profile_with_wire_names(pep):
    make_players(1)
    pep.add_callback(responses.POST, URL, callback=accept)
    migration.migration_send(migration.migration_run_for({}))
    body = json.loads(gzip.decompress(migration_calls(pep)[0].request.body))
    assert body == {
        "players": [
            {
                "playerId": "p-0",
                "firstName": "Anna",
                "country": "CH",
                "accountStatus": "active",
                "selfExcluded": False,
                "atRisk": False,
            }
        ]
    }


def test_it_keeps_a_chunk_under_the_byte_limit():
    players = make_players(10)
    one = len(migration.build_chunk(players[:1]).body)
    chunk = migration.build_chunk(players, max_bytes=one * 2)
    assert chunk is not None
    assert chunk.player_count == 2
    assert len(chunk.body) <= one * 2


def test_it_never_exceeds_20000_players_per_chunk():
    players = [Player(pk=i + 1, player_id=f"p-{i}") for i in range(20_001)]
    chunk = migration.build_chunk(players)
    assert chunk is not None
    assert chunk.player_count == 20_000
    assert chunk.last_pk == 20_000


def test_it_stores_peps_validation_errors_against_the_player(pep):
    make_players(3)
    pep.add_callback(responses.POST, URL, callback=lambda r: accept(r, invalid=("p-1",)))
    report = migration.migration_send(migration.migration_run_for({}))
    error = MigrationError.objects.get()
    assert error.player.player_id == "p-1"
    assert error.errors == {"email": ["required"]}
    assert MigrationChunk.objects.get().error_count == 1
    assert report.players_with_errors == 1


def test_it_resumes_after_an_interruption_without_resending_a_chunk(pep):
    make_players(3)
    pep.add_callback(responses.POST, URL, callback=accept)
    pep.add(responses.POST, URL, body=requests.exceptions.ReadTimeout("slow"))
    pep.add_callback(responses.POST, URL, callback=accept)
    run = migration.migration_run_for({})
    with pytest.raises(migration.MigrationStopped, match="outcome unknown"):
        migration.migration_send(run, max_players=1)
    assert MigrationChunk.objects.get(sequence=2).status == "sending"
    report = migration.migration_send(migration.migration_run_for({}), max_players=1)
    assert [sent_players(c) for c in migration_calls(pep)] == [["p-0"], ["p-1"], ["p-2"]]
    assert report.unconfirmed == [2]
    assert MigrationChunk.objects.get(sequence=3).status == "accepted"


def test_a_resumed_run_skips_unconfirmed_chunks_unless_asked(pep):
    make_players(3)
    run = migration.migration_run_for({})
    MigrationChunk.objects.create(
        run=run,
        sequence=1,
        first_pk=Player.objects.get(player_id="p-0").pk,
        last_pk=Player.objects.get(player_id="p-0").pk,
        player_count=1,
        body_bytes=1,
        gzip_bytes=1,
        status="sending",
    )
    pep.add_callback(responses.POST, URL, callback=accept)
    report = migration.migration_send(run, max_players=5)
    assert [sent_players(c) for c in migration_calls(pep)] == [["p-1", "p-2"]]
    assert report.unconfirmed == [1]
    assert MigrationRun.objects.get().status == "running"
    report = migration.migration_send(run, resend_unconfirmed=True)
    assert sent_players(migration_calls(pep)[-1]) == ["p-0"]
    assert MigrationRun.objects.get().status == "finished"
    assert MigrationChunk.objects.filter(status="accepted").count() == 2


def test_it_resends_a_chunk_pep_refused_when_run_again(pep):
    make_players(2)
    pep.add(responses.POST, URL, status=400, json={"message": "bad"})
    pep.add_callback(responses.POST, URL, callback=accept)
    run = migration.migration_run_for({})
    with pytest.raises(migration.MigrationStopped, match="refused"):
        migration.migration_send(run)
    assert MigrationChunk.objects.get().status == "refused"
    migration.migration_send(migration.migration_run_for({}))
    assert MigrationChunk.objects.get().status == "accepted"
    assert [sent_players(c) for c in migration_calls(pep)] == [["p-0", "p-1"]] * 2


def test_it_refuses_a_chunk_that_breaks_the_contract_before_pep_sees_it(pep):
    make_players(2)
    Player.objects.filter(player_id="p-1").update(country="ch")  # around the model's validators
    problem = "player p-1 country: must be 2 upper-case letters (ISO 3166-1)"
    with pytest.raises(migration.MigrationStopped) as stopped:
        migration.migration_send(migration.migration_run_for({}))
    assert str(stopped.value) == (
        f"chunk 1 not sent, it breaks the contract ({problem}); correct the players and run again"
    )
    assert migration_calls(pep) == []
    chunk = MigrationChunk.objects.get()
    assert (chunk.status, chunk.last_error) == ("refused", f"contract: {problem}")

    Player.objects.filter(player_id="p-1").update(country="CH")
    pep.add_callback(responses.POST, URL, callback=accept)
    migration.migration_send(migration.migration_run_for({}))
    assert [sent_players(c) for c in migration_calls(pep)] == [["p-0", "p-1"]]
    assert MigrationChunk.objects.get().status == "accepted"


def test_it_keeps_a_bounded_part_of_peps_error_body(pep):
    make_players(1)
    pep.add(responses.POST, URL, status=400, body="x" * 5000)
    with pytest.raises(migration.MigrationStopped):
        migration.migration_send(migration.migration_run_for({}))
    last_error = MigrationChunk.objects.get().last_error
    assert last_error.startswith("http_400")
    assert len(last_error) == MigrationChunk.LAST_ERROR_MAX


def test_it_waits_and_resends_on_429(pep):
    make_players(1)
    pep.add(responses.POST, URL, status=429, headers={"Retry-After": "3"})
    pep.add_callback(responses.POST, URL, callback=accept)
    sleeps: list[float] = []
    migration.migration_send(migration.migration_run_for({}), sleep=sleeps.append)
    assert sleeps == [3.0]
    assert MigrationChunk.objects.get().status == "accepted"


def test_it_sends_only_the_filtered_players_and_never_erased_ones(pep):
    make_players(2)
    Player.objects.create(player_id="de-1", country="DE")
    Player.objects.create(player_id="gone", country="CH", erased_at=timezone.now())
    pep.add_callback(responses.POST, URL, callback=accept)
    migration.migration_send(migration.migration_run_for({"country": "CH"}))
    assert sent_players(migration_calls(pep)[0]) == ["p-0", "p-1"]


def test_a_run_with_other_filters_is_a_new_run():
    first = migration.migration_run_for({"country": "CH"})
    assert migration.migration_run_for({"country": "CH", "brand_id": None}) == first
    assert migration.migration_run_for({"country": "DE"}) != first


def test_the_command_reports_what_it_sent(pep):
    make_players(3)
    pep.add_callback(responses.POST, URL, callback=accept)
    out = StringIO()
    call_command("pep_migrate_players", "--max-players", "2", "--no-progress", stdout=out)
    assert "sent 2 chunks, 3 players" in out.getvalue()
    assert "finished" in out.getvalue()


def test_the_command_stops_with_a_resume_hint(pep):
    make_players(1)
    pep.add(responses.POST, URL, status=500)
    with pytest.raises(CommandError, match="run the command again to resume"):
        call_command("pep_migrate_players", "--no-progress", stdout=StringIO())


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            {"migrationTasksId": "t", "invalidPlayers": [{"playerId": "a", "errors": {"x": []}}]},
            ("t", {"a": {"x": []}}),
        ),
        ({"taskId": 7, "errors": {"b": {"y": ["z"]}}}, ("7", {"b": {"y": ["z"]}})),
        ("Ok", ("", {})),
    ],
)
def test_it_reads_the_answer_shapes_pep_may_send(answer, expected):
    assert migration.parse_answer(answer) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [("last tuesday", "is not an ISO 8601 date and time"), ("2024-01-01", "has no time zone")],
)
def test_the_command_refuses_a_bad_registered_since_clearly(value, reason):
    with pytest.raises(CommandError, match=f"--registered-since '{value}' {reason}"):
        call_command(
            "pep_migrate_players", "--registered-since", value, "--no-progress", stdout=StringIO()
        )
    assert not MigrationRun.objects.exists()


def test_the_command_filters_on_an_aware_registered_since(pep):
    make_players(1, registration_date=datetime(2024, 3, 1, tzinfo=UTC))
    make_players(1, registration_date=datetime(2020, 1, 1, tzinfo=UTC))
    pep.add_callback(responses.POST, URL, callback=accept)
    call_command(
        "pep_migrate_players",
        "--registered-since",
        "2024-01-01T00:00:00Z",
        "--no-progress",
        stdout=StringIO(),
    )
    assert sent_players(migration_calls(pep)[0]) == ["p-0"]


# --- what the batch body has no place for: consents, verification state, tags ---------------

CHANGED = datetime(2024, 2, 1, 9, 0, tzinfo=UTC)


def give_consents(player: Player, **channels: bool) -> None:
    for channel, granted in channels.items():
        MarketingConsent.objects.create(
            player=player, channel=channel, granted=granted, changed_at=CHANGED
        )


def follow_ups_of(player_id: str) -> list[str]:
    return sorted(
        OutboxMessage.objects.filter(player_id=player_id).values_list("message_type", flat=True)
    )


def test_it_queues_consents_verification_and_tags_once_pep_accepts_the_chunk(pep):
    (player,) = make_players(1, kyc_status="verified", email_verified=True, tags=["vip"])
    give_consents(player, email=False, sms=True)
    pep.add_callback(responses.POST, URL, callback=accept)
    report = migration.migration_send(migration.migration_run_for({}))
    body = json.loads(gzip.decompress(migration_calls(pep)[0].request.body))
    assert set(body["players"][0]) == {
        "playerId",
        "firstName",
        "country",
        "accountStatus",
        "selfExcluded",
        "atRisk",
    }
    (consents,) = outbox("player_marketing_preferences")
    assert consents["body"] == {
        "playerId": "p-0",
        "channels": {"email": False, "sms": True},
        "date": "2024-02-01T09:00:00.000Z",
    }
    verifications = outbox("player_verification")
    assert [
        (v["body"]["verificationType"], v["body"]["verificationStatus"]) for v in verifications
    ] == [
        ("KYC", "VERIFIED"),
        ("EMAIL", "VERIFIED"),
    ]
    assert [t["body"]["tags"] for t in outbox("player_tags")] == [["vip"]]
    assert report.follow_ups_queued == 4


def test_it_queues_nothing_for_a_chunk_pep_did_not_accept(pep):
    (player,) = make_players(1)
    give_consents(player, email=False)
    pep.add(responses.POST, URL, status=400, json={"message": "bad"})
    with pytest.raises(migration.MigrationStopped):
        migration.migration_send(migration.migration_run_for({}))
    assert not OutboxMessage.objects.exists()


def test_it_queues_nothing_for_a_player_pep_refused(pep):
    players = make_players(2)
    for player in players:
        give_consents(player, email=True)
    pep.add_callback(responses.POST, URL, callback=lambda r: accept(r, invalid=("p-1",)))
    migration.migration_send(migration.migration_run_for({}))
    assert follow_ups_of("p-0") == ["player_marketing_preferences"]
    assert follow_ups_of("p-1") == []


def test_it_queues_each_players_follow_ups_once_across_a_resume(pep):
    for player in make_players(3):
        give_consents(player, email=False)
    pep.add_callback(responses.POST, URL, callback=accept)
    pep.add(responses.POST, URL, body=requests.exceptions.ReadTimeout("slow"))
    pep.add_callback(responses.POST, URL, callback=accept)
    pep.add_callback(responses.POST, URL, callback=accept)
    with pytest.raises(migration.MigrationStopped):
        migration.migration_send(migration.migration_run_for({}), max_players=1)
    assert follow_ups_of("p-1") == []
    run = migration.migration_run_for({})
    migration.migration_send(run, max_players=1, resend_unconfirmed=True)
    migration.migration_send(run, max_players=1, resend_unconfirmed=True)
    assert [sent_players(c) for c in migration_calls(pep)] == [["p-0"], ["p-1"], ["p-1"], ["p-2"]]
    for player_id in ("p-0", "p-1", "p-2"):
        assert follow_ups_of(player_id) == ["player_marketing_preferences"]


def test_a_second_queueing_for_the_same_run_writes_nothing(pep):
    (player,) = make_players(1, tags=["vip"])
    give_consents(player, sms=True)
    pep.add_callback(responses.POST, URL, callback=accept)
    run = migration.migration_run_for({})
    migration.migration_send(run)
    before = OutboxMessage.objects.count()
    with transaction.atomic():
        again = list(messages.after_migration(player, timezone.now(), run_id=run.pk))
        outcomes = enqueue_many(again)
    assert before == 2
    assert OutboxMessage.objects.count() == before
    assert not any(isinstance(outcome, OutboxMessage) for outcome in outcomes)


def test_players_loaded_without_pep_reach_pep_with_their_consents(pep, tmp_path):
    line = {
        "playerId": "p-9",
        "country": "CH",
        "marketingConsents": [
            {"channel": "email", "granted": False, "changedAt": "2024-02-01T09:00:00Z"}
        ],
    }
    path = tmp_path / "players.jsonl"
    path.write_text(json.dumps(line) + "\n")
    call_command("load_players", str(path), "--no-pep", "--no-progress", stdout=StringIO())
    assert not OutboxMessage.objects.exists()
    pep.add_callback(responses.POST, URL, callback=accept)
    call_command("pep_migrate_players", "--no-progress", stdout=StringIO())
    assert [m["body"]["channels"] for m in outbox()] == [{"email": False}]


# --- a re-sent chunk keeps every player of its range -----------------------------------------


def record_chunk(run: MigrationRun, players: list[Player], **fields: Any) -> MigrationChunk:
    sequence = run.chunks.count() + 1
    defaults = {"body_bytes": 1, "gzip_bytes": 1, "status": "refused"}
    return MigrationChunk.objects.create(
        run=run,
        sequence=sequence,
        first_pk=players[0].pk,
        last_pk=players[-1].pk,
        player_count=len(players),
        **{**defaults, **fields},
    )


def test_a_resent_chunk_that_no_longer_fits_is_split_and_skips_no_player(pep):
    players = make_players(4)
    run = migration.migration_run_for({})
    record_chunk(run, players[:3])
    record_chunk(run, players[3:], status="accepted")
    pep.add_callback(responses.POST, URL, callback=accept)
    report = migration.migration_send(run, max_players=2)
    assert [sent_players(c) for c in migration_calls(pep)] == [["p-0", "p-1"], ["p-2"]]
    assert report.split == {1: [3]}
    chunks = {c.sequence: c for c in MigrationChunk.objects.all()}
    assert (chunks[1].first_pk, chunks[1].last_pk, chunks[1].player_count) == (
        players[0].pk,
        players[1].pk,
        2,
    )
    assert (chunks[3].first_pk, chunks[3].last_pk, chunks[3].player_count) == (
        players[2].pk,
        players[2].pk,
        1,
    )
    assert {c.status for c in chunks.values()} == {"accepted"}
    assert MigrationRun.objects.get().status == "finished"


def test_the_parts_of_a_split_chunk_are_recorded_before_any_is_sent(pep):
    players = make_players(3)
    run = migration.migration_run_for({})
    record_chunk(run, players)
    pep.add(responses.POST, URL, status=500)
    with pytest.raises(migration.MigrationStopped, match="outcome unknown"):
        migration.migration_send(run, max_players=2)
    split_off = MigrationChunk.objects.get(sequence=2)
    assert split_off.status == "refused"
    assert "split off chunk 1" in split_off.last_error
    pep.add_callback(responses.POST, URL, callback=accept)
    report = migration.migration_send(run, max_players=2)
    assert sent_players(migration_calls(pep)[-1]) == ["p-2"]
    assert report.unconfirmed == [1]


def test_a_resent_chunk_that_still_fits_carries_exactly_its_players(pep):
    players = make_players(3)
    run = migration.migration_run_for({})
    record_chunk(run, players[:2])
    record_chunk(run, players[2:], status="accepted")
    pep.add_callback(responses.POST, URL, callback=accept)
    report = migration.migration_send(run, max_players=5)
    assert [sent_players(c) for c in migration_calls(pep)] == [["p-0", "p-1"]]
    assert report.split == {}


def test_the_command_reports_a_split(pep):
    players = make_players(3)
    record_chunk(migration.migration_run_for({}), players)
    pep.add_callback(responses.POST, URL, callback=accept)
    out = StringIO()
    call_command("pep_migrate_players", "--max-players", "2", "--no-progress", stdout=out)
    assert "Chunk 1 no longer fit one request: split, the rest as chunks 2." in out.getvalue()


# --- the progress of a resumed run ------------------------------------------------------------


class Terminal(StringIO):
    def isatty(self) -> bool:
        return True


def test_a_resumed_runs_progress_starts_at_the_players_already_confirmed(pep, monkeypatch):
    make_players(5)
    pep.add_callback(responses.POST, URL, callback=accept)
    pep.add_callback(responses.POST, URL, callback=accept)
    pep.add(responses.POST, URL, status=400, json={"message": "bad"})
    with pytest.raises(CommandError):
        call_command(
            "pep_migrate_players", "--max-players", "1", "--no-progress", stdout=StringIO()
        )
    pep.add_callback(responses.POST, URL, callback=accept)
    screen = Terminal()
    monkeypatch.setattr("sys.stderr", screen)
    call_command("pep_migrate_players", "--max-players", "1", stdout=StringIO())
    frames = [frame for frame in screen.getvalue().split("\r") if frame.strip()]
    assert [re.search(r"\] (\S+) \((\d+)%", frame).groups() for frame in frames] == [
        ("2/5", "40"),
        ("3/5", "60"),
        ("4/5", "80"),
        ("5/5", "100"),
    ]
