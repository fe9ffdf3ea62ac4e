"""The idempotency cases docs/contract.md names for a repeated assign-bonus request.

"Same body again (any process, after a restart, with a new token): 202, no new grant". The key
is the OAuth client, not the token, and it lives in the database, not in a process: these tests
repeat a request with a token obtained afresh, after the process state is gone (caches and
connections), and from another operating-system process.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from bonuses import services
from bonuses.models import BonusAssignment, PlayerBonus
from events.models import OutboxMessage
from pepbridge.api.services import IssuedClient, api_key_create, oauth_client_create

ASSIGN = "/api/bonus/v1/assign-bonus"
BODY = {
    "requestId": "r-idem-1",
    "eventDate": "2026-05-01T12:00:00.000Z",
    "playerId": "p-1",
    "bonusOfferId": "WELCOME-10",
}


def _fresh_token(issued: IssuedClient) -> str:
    """What PEP does when its token expired: ask /oauth/token again for the same client."""
    response = Client().post(
        "/oauth/token",
        {
            "grant_type": "client_credentials",
            "client_id": issued.client_id,
            "client_secret": issued.client_secret,
        },
    )
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


def _assign(token: str) -> int:
    client = APIClient()  # a new connection's worth of client state each time
    client.credentials(HTTP_X_AUTHORIZATION=f"Bearer {token}")
    return client.post(ASSIGN, BODY, format="json").status_code


def _grant_all() -> None:
    services.assignment_process_pending(max_seconds=5, idle_for=0)


def _assert_one_request_one_grant(duplicates: int) -> None:
    assert BonusAssignment.objects.get().duplicate_count == duplicates
    assert PlayerBonus.objects.count() == 1
    assert OutboxMessage.objects.filter(message_type="bonus_granted").count() == 1


@pytest.fixture
def pep(db: None, make_bonus, make_player) -> IssuedClient:
    make_bonus()
    make_player("p-1")
    return oauth_client_create(name="PEP", scope="pep")


def test_it_answers_202_and_grants_nothing_more_with_a_new_token(pep) -> None:
    first, second = _fresh_token(pep), _fresh_token(pep)
    assert first != second
    assert _assign(first) == 202
    _grant_all()
    assert _assign(second) == 202
    _grant_all()
    _assert_one_request_one_grant(duplicates=1)


def test_it_grants_once_through_pep_s_oauth_client_and_then_its_api_key(pep) -> None:
    assert _assign(_fresh_token(pep)) == 202
    _grant_all()
    client = APIClient()  # PEP switched to its API key (a rotation, or a misconfiguration)
    client.credentials(HTTP_X_AUTHORIZATION=api_key_create(name="PEP key", scope="pep").api_key)
    assert client.post(ASSIGN, BODY, format="json").status_code == 202
    _grant_all()
    _assert_one_request_one_grant(duplicates=1)


@pytest.mark.django_db(transaction=True)  # a real commit, so the connection can really close
def test_it_answers_202_and_grants_nothing_more_after_a_restart(pep) -> None:
    assert _assign(_fresh_token(pep)) == 202
    _grant_all()
    # What a restart loses: the process cache (throttle counters, the grant kick), the
    # database connection, every client object. What it keeps: the database.
    cache.clear()
    connection.close()
    assert _assign(_fresh_token(pep)) == 202
    _grant_all()
    _assert_one_request_one_grant(duplicates=1)


# --- another process --------------------------------------------------------------------------

MANAGE = str(Path(settings.BASE_DIR) / "manage.py")

# Each script runs in its own `manage.py shell` process on one file database and prints, as its
# last line, the JSON the test reads.
FIRST_PROCESS = """
import json
from decimal import Decimal
from django.test import Client
from bonuses import services
from bonuses.models import Bonus
from pepbridge.api.services import oauth_client_create
from players.models import Player

Bonus.objects.create(bonus_id="WELCOME-10", name="Welcome 10", bonus_type="cash",
                     amount=Decimal("10"), currency="EUR")
Player.objects.create(player_id="p-1")
issued = oauth_client_create(name="PEP", scope="pep")
form = {"grant_type": "client_credentials", "client_id": issued.client_id,
        "client_secret": issued.client_secret}
token = Client().post("/oauth/token", form).json()["access_token"]
answer = Client().post(ASSIGN, BODY, content_type="application/json",
                       HTTP_X_AUTHORIZATION="Bearer " + token)
services.assignment_process_pending(max_seconds=5, idle_for=0)
print(json.dumps({"status": answer.status_code, "form": form, "token": token}))
"""

NEXT_PROCESS = """
import json
from django.test import Client
from bonuses import services

token = Client().post("/oauth/token", FORM).json()["access_token"]
answer = Client().post(ASSIGN, BODY, content_type="application/json",
                       HTTP_X_AUTHORIZATION="Bearer " + token)
services.assignment_process_pending(max_seconds=5, idle_for=0)
print(json.dumps({"status": answer.status_code, "token": token}))
"""


def _env(tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env.update(
        DEBUG="true",
        DATABASE_URL=f"sqlite:///{tmp_path / 'bridge.sqlite3'}",
        PEPBRIDGE_VAR_DIR=str(tmp_path),
        LOG_LEVEL="warning",
    )
    return env


def _manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, MANAGE, *args], env=env, check=True, timeout=120, capture_output=True
    )
    return done.stdout.decode()


def _run(env: dict[str, str], script: str, **names: Any) -> dict[str, Any]:
    """Run `script` in a new process with `names` defined (as JSON values); return its JSON."""
    given = "".join(
        f"{name} = json.loads({json.dumps(value)!r})\n" for name, value in names.items()
    )
    output = _manage(env, "shell", "-c", "import json\n" + given + script)
    return json.loads(output.strip().splitlines()[-1])


def _count(db: Path, sql: str) -> Any:
    with sqlite3.connect(db, timeout=30) as conn:
        return conn.execute(sql).fetchone()[0]


@pytest.mark.e2e
@pytest.mark.own_sqlite
def test_it_answers_202_and_grants_nothing_more_from_another_process(tmp_path) -> None:
    env = _env(tmp_path)
    _manage(env, "migrate", "--no-input")

    first = _run(env, FIRST_PROCESS, ASSIGN=ASSIGN, BODY=BODY)
    again = _run(env, NEXT_PROCESS, ASSIGN=ASSIGN, BODY=BODY, FORM=first["form"])

    assert (first["status"], again["status"]) == (202, 202)
    assert first["token"] != again["token"]  # a restarted PEP with a new token, too
    db = tmp_path / "bridge.sqlite3"
    assert _count(db, "SELECT COUNT(*) FROM bonuses_bonusassignment") == 1
    assert _count(db, "SELECT duplicate_count FROM bonuses_bonusassignment") == 1
    assert _count(db, "SELECT COUNT(*) FROM bonuses_playerbonus") == 1
    granted = "SELECT COUNT(*) FROM events_outboxmessage WHERE message_type = 'bonus_granted'"
    assert _count(db, granted) == 1
