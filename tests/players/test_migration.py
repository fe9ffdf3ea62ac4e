"""The initial load through PEP's bulk migration endpoint: chunking, errors, resume."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from io import StringIO
from typing import Any

import pytest
import requests
import responses
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from pepbridge.pep.client import reset_pep_client
from players import migration
from players.models import MigrationChunk, MigrationError, MigrationRun, Player

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
