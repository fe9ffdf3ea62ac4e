"""manage.py load_events: the same validation as the batch API, with line numbers."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from events.models import OutboxMessage
from players.models import Player

pytestmark = pytest.mark.django_db


def login(player_id: str = "p-1", date: str = "2024-05-02T08:00:00Z") -> dict:
    return {"type": "login", "playerId": player_id, "date": date}


def deposit(transaction_id: str, amount: str = "12.345678901234567") -> dict:
    return {
        "type": "money_transaction",
        "playerId": "p-1",
        "transactionId": transaction_id,
        "transactionType": "DEPOSIT",
        "transactionStatus": "APPROVED",
        "amount": amount,
        "currency": "EUR",
        "date": "2024-05-02T07:55:00Z",
        "realMoneyBalance": "100",
        "bonusMoneyBalance": "0",
    }


def run(tmp_path, lines: list[str], *args: str) -> str:
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    out = StringIO()
    call_command("load_events", str(path), "--no-progress", *args, stdout=out)
    return out.getvalue()


def test_it_loads_events_and_reports_refused_lines(tmp_path):
    Player.objects.create(player_id="p-1")
    lines = [
        json.dumps(login()),
        json.dumps(login("ghost")),
        json.dumps(login()),
        "[1, 2]",
        json.dumps(login(date="2024-05-02 08:00")),
    ]
    output = run(tmp_path, lines)
    assert "5 lines: 1 accepted, 1 duplicate, 0 conflict, 3 rejected" in output
    assert "line 2: rejected" in output and "Unknown player" in output
    assert output.index("line 2:") < output.index("line 4:") < output.index("line 5:")
    assert "line 4: rejected: each line must be a JSON object" in output
    assert "line 5: rejected" in output
    assert OutboxMessage.objects.count() == 1


def test_it_keeps_amounts_exact_from_the_file(tmp_path):
    Player.objects.create(player_id="p-1")
    # A JSON number, not a string: it must not pass through a float on the way in.
    line = json.dumps(deposit("d-1")).replace('"12.345678901234567"', "12.34567891")
    run(tmp_path, [line])
    assert '"amount":12.34567891' in OutboxMessage.objects.get().body


def test_it_reports_conflicts_with_their_line(tmp_path):
    Player.objects.create(player_id="p-1")
    output = run(tmp_path, [json.dumps(deposit("d-1", "5")), json.dumps(deposit("d-1", "6"))])
    assert "line 2: conflict" in output


def test_it_refuses_a_batch_size_over_the_api_limit(tmp_path):
    with pytest.raises(CommandError, match="at most 1000"):
        run(tmp_path, [json.dumps(login())], "--batch-size", "1001")
