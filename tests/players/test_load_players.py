"""manage.py load_players: JSON Lines in, the API's validation, a summary with line numbers."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from events.models import OutboxMessage
from players.models import Player

pytestmark = pytest.mark.django_db


def write_lines(tmp_path: Path, *lines: object) -> str:
    path = tmp_path / "players.jsonl"
    path.write_text(
        "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"
    )
    return str(path)


def run(*args: str) -> str:
    out = StringIO()
    call_command("load_players", *args, "--no-progress", stdout=out)
    return out.getvalue()


def test_it_loads_players_and_reports_bad_lines_by_number(tmp_path):
    path = write_lines(
        tmp_path,
        {"playerId": "p-1", "email": "a@example.com", "country": "CH"},
        {"playerId": "p-2", "email": "not-an-email", "phone": "12345"},
        "",
        "{broken",
        {"playerId": "p-3", "birthDate": "2999-01-01"},
        {"playerId": "p-4", "currency": "EUR"},
    )
    output = run(path)
    assert "5 lines: 2 accepted, 0 duplicate, 0 conflict, 3 rejected" in output
    assert "line 2: rejected" in output and '"email"' in output and '"phone"' in output
    assert "line 4: rejected: not valid JSON" in output
    assert "line 5: rejected" in output and "birthDate" in output
    assert sorted(Player.objects.values_list("player_id", flat=True)) == ["p-1", "p-4"]


def test_it_rejects_a_deeply_nested_line_and_loads_the_others(tmp_path):
    nested = "[" * 100_000 + "]" * 100_000
    path = write_lines(tmp_path, {"playerId": "p-1"}, nested, {"playerId": "p-2"})
    output = run(path)
    assert "3 lines: 2 accepted, 0 duplicate, 0 conflict, 1 rejected" in output
    assert "line 2: rejected: nested too deeply to be read" in output
    assert Player.objects.count() == 2


def test_it_writes_no_part_of_a_refused_line(tmp_path):
    path = write_lines(
        tmp_path,
        {
            "playerId": "p-1",
            "marketingConsents": [
                {"channel": "email", "granted": True, "changedAt": "2024-01-01T00:00:00Z"},
                {"channel": "email", "granted": False, "changedAt": "2024-01-01T00:00:00Z"},
            ],
        },
    )
    assert "1 rejected" in run(path)
    assert Player.objects.count() == 0
    assert OutboxMessage.objects.count() == 0


def test_it_updates_existing_players_and_counts_unchanged_ones_as_duplicates(tmp_path):
    first = write_lines(tmp_path, {"playerId": "p-1", "city": "Bern"})
    run(first)
    second = write_lines(
        tmp_path, {"playerId": "p-1", "city": "Basel"}, {"playerId": "p-1", "city": "Basel"}
    )
    assert "2 lines: 1 accepted, 1 duplicate" in run(second)
    assert Player.objects.get().city == "Basel"


def test_it_can_load_without_queuing_anything_for_pep(tmp_path):
    run(write_lines(tmp_path, {"playerId": "p-1"}), "--no-pep")
    assert Player.objects.count() == 1
    assert OutboxMessage.objects.count() == 0


def test_it_queues_registration_when_loading_normally(tmp_path):
    run(write_lines(tmp_path, {"playerId": "p-1", "registrationDate": "2024-01-01T00:00:00Z"}))
    assert OutboxMessage.objects.filter(message_type="player_registration").count() == 1


def test_it_writes_every_refused_line_to_an_errors_file(tmp_path):
    errors = tmp_path / "errors.jsonl"
    run(write_lines(tmp_path, {"playerId": "p 1"}), "--errors-file", str(errors))
    [entry] = [json.loads(line) for line in errors.read_text().splitlines()]
    assert entry["line"] == 1
    assert entry["status"] == "rejected"
    assert "playerId" in entry["errors"]
    assert errors.stat().st_mode & 0o777 == 0o600  # refused lines name players


def test_it_commits_batches_of_the_given_size(tmp_path):
    lines = [{"playerId": f"p-{i}"} for i in range(7)]
    assert "7 accepted" in run(write_lines(tmp_path, *lines), "--batch-size", "3")
    assert Player.objects.count() == 7


def test_it_says_clearly_when_the_file_is_missing(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        run(str(tmp_path / "nope.jsonl"))


def test_the_progress_bar_shows_done_total_and_rate():
    from players.loading import ProgressBar

    class Terminal(StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    bar = ProgressBar(200, label="players", stream=screen)
    bar(50)
    bar.close()
    assert "players [#######" in screen.getvalue()
    assert "50/200 (25%" in screen.getvalue()


def test_the_progress_bar_stays_silent_off_a_terminal():
    from players.loading import ProgressBar

    screen = StringIO()
    ProgressBar(10, label="x", stream=screen)(5)
    assert screen.getvalue() == ""


def test_it_names_the_file_to_the_change_hooks(tmp_path, hooks):
    path = write_lines(tmp_path, {"playerId": "p-1", "email": "a@example.com", "country": "CH"})
    run(path)
    assert hooks.causes == [f"loader:{path}"]


def test_the_progress_rate_counts_only_this_runs_work():
    """A resumed run starts at the players done before; they are not part of its rate."""
    from players.loading import ProgressBar

    class Terminal(StringIO):
        def isatty(self) -> bool:
            return True

    moments = iter([90.0, 100.0, 102.0])  # created; the first report; two seconds later
    screen = Terminal()
    bar = ProgressBar(10_000, label="players", stream=screen, clock=lambda: next(moments))
    bar(8_000)  # resumed: 8,000 confirmed before this run
    bar(8_100)
    assert screen.getvalue().rstrip().endswith("8,100/10,000 (81%, 50/s)")
