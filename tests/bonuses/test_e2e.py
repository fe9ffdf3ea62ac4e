"""The whole flow as PEP drives it, over HTTP against a running bridge and the PEP sandbox.

PEP gets a token with a standard OAuth2 client (client credentials), lists the bonuses, assigns
one twice; the grant task and an outbox delivery pass then run here (what the worker does), and
exactly one grant and one bonus-granted message reach the sandbox.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal

import pytest
import requests
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session

from bonuses import services, tasks
from bonuses.models import BonusAssignment, PlayerBonus
from events.services.delivery import drain
from pepbridge.api.services import oauth_client_create
from pepbridge.pep.client import PepClient
from pepbridge.sandbox import SandboxServer
from players.models import Player

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(client_id="bridge", client_secret="s3cret") as server:
        yield server


@pytest.fixture
def pep_to_sandbox(sandbox: SandboxServer) -> Iterator[PepClient]:
    client = PepClient(
        base_url=sandbox.base_url, client_id=sandbox.client_id, client_secret=sandbox.client_secret
    )
    client.sleep = lambda seconds: None
    yield client
    client.close()


def _pep_session(base_url: str) -> requests.Session:
    """What PEP does: client credentials at /oauth/token, then the token in x-authorization."""
    issued = oauth_client_create(name="PEP", scope="pep")
    oauth = OAuth2Session(client=BackendApplicationClient(client_id=issued.client_id))
    token = oauth.fetch_token(
        token_url=f"{base_url}/oauth/token",
        client_id=issued.client_id,
        client_secret=issued.client_secret,
    )
    oauth.close()
    session = requests.Session()
    session.headers["x-authorization"] = f"Bearer {token['access_token']}"
    return session


def test_pep_lists_assigns_twice_and_exactly_one_grant_reaches_pep(
    live_server, sandbox: SandboxServer, pep_to_sandbox: PepClient, monkeypatch
) -> None:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # plain HTTP on loopback only
    services.bonus_create(
        bonus_id="WELCOME-10",
        name="Welcome 10",
        bonus_type="cash",
        amount=Decimal("10"),
        currency="EUR",
        max_grants_per_player=1,
    )
    Player.objects.create(player_id="p-1")
    pep = _pep_session(live_server.url)

    listed = pep.get(f"{live_server.url}/api/bonus/v1/bonuses", params={"active": "true"})
    assert listed.status_code == 200
    assert [b["bonusOfferId"] for b in listed.json()["items"]] == ["WELCOME-10"]

    body = {
        "requestId": "5f0c6a4e-1b7d-4d0e-9a51-0f5b2f6c9e11",
        "eventDate": "2026-05-01T12:00:00.000Z",
        "playerId": "p-1",
        "bonusOfferId": "WELCOME-10",
    }
    url = f"{live_server.url}/api/bonus/v1/assign-bonus"
    first = pep.post(url, json=body, timeout=10)
    retry = pep.post(url, data=json.dumps(body, indent=2), timeout=10,
                     headers={"Content-Type": "application/json"})  # fmt: skip
    assert (first.status_code, retry.status_code) == (202, 202)
    pep.close()

    assert tasks.assignment_process_pending_task() == 1  # what the queued worker task runs
    tasks.assignment_sweep_task()  # a later pass finds nothing left to grant
    assert BonusAssignment.objects.get().status == "processed"
    drain(max_seconds=10, client=pep_to_sandbox)

    assert PlayerBonus.objects.count() == 1
    granted = [r for r in sandbox.received if r.message_type == "bonus_granted"]
    assert len(granted) == 1
    assert granted[0].status == 202
    assert granted[0].body["playerId"] == "p-1"
    assert granted[0].body["bonusOfferId"] == "WELCOME-10"
    assert granted[0].body["transactionId"] == f"bonus-{PlayerBonus.objects.get().pk}"
    offers = [r for r in sandbox.received if r.message_type == "bonus_offer_upsert"]
    assert [r.path for r in offers] == ["/rx-api/bonus-offer/v1/offer/WELCOME-10"]
