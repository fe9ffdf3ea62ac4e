"""POST /api/auth/v1/player: valid tokens name a player; every refusal looks the same."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from django.test import Client
from django.utils import timezone

from pepbridge.api.identity import Identity
from players.models import Player

pytestmark = pytest.mark.django_db

SECRET = "operator-platform-shared-secret-0123456789abcdef"
REFUSED = {
    "statusCode": 401,
    "error": "Unauthorized",
    "message": "The identity token is not valid.",
}


@pytest.fixture(autouse=True)
def _secret(settings) -> None:
    settings.PLAYER_IDENTITY_SECRET = SECRET


@pytest.fixture
def pep(make_key) -> Client:
    return Client(headers={"x-api-key": make_key("pep")})


def _token(claims: dict, secret: str = SECRET) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


def _ask(client: Client, token: str):
    return client.post(
        "/api/auth/v1/player", {"identityToken": token}, content_type="application/json"
    )


def test_it_returns_the_player_and_expiry_for_a_valid_token(pep):
    Player.objects.create(player_id="p-10042")
    exp = int(time.time()) + 600
    response = _ask(pep, _token({"sub": "p-10042", "exp": exp}))
    assert response.status_code == 200
    expected_expiry = datetime.fromtimestamp(exp, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert response.json() == {"playerId": "p-10042", "expiresAt": expected_expiry}


def test_it_reads_the_player_id_claim_too(pep):
    Player.objects.create(player_id="p-7")
    token = _token({"playerId": "p-7", "exp": int(time.time()) + 60})
    assert _ask(pep, token).json()["playerId"] == "p-7"


@pytest.mark.parametrize(
    "case", ["expired", "bad_signature", "unknown_player", "no_exp", "garbage", "erased"]
)
def test_it_refuses_every_bad_token_with_the_same_401(pep, case):
    Player.objects.create(player_id="p-1")
    Player.objects.create(player_id="p-gone", erased_at=timezone.now())
    future = int(time.time()) + 600
    token = {
        "expired": _token({"sub": "p-1", "exp": int(time.time()) - 5}),
        "bad_signature": _token({"sub": "p-1", "exp": future}, secret="another-secret" * 4),
        "unknown_player": _token({"sub": "p-404", "exp": future}),
        "no_exp": _token({"sub": "p-1"}),
        "garbage": "not.a.jwt",
        "erased": _token({"sub": "p-gone", "exp": future}),
    }[case]
    response = _ask(pep, token)
    assert response.status_code == 401
    assert response.json() == REFUSED
    assert response["WWW-Authenticate"] == 'IdentityToken realm="pepbridge"'


def test_it_refuses_everything_without_a_secret(pep, settings):
    Player.objects.create(player_id="p-1")
    token = _token({"sub": "p-1", "exp": int(time.time()) + 60})
    settings.PLAYER_IDENTITY_SECRET = ""
    assert _ask(pep, token).status_code == 401


def test_it_needs_an_identity_token(pep):
    response = pep.post("/api/auth/v1/player", {}, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"identityToken": ["This field is required."]}


def test_it_needs_the_pep_scope(make_key):
    ingest = Client(headers={"x-api-key": make_key("ingest")})
    assert _ask(ingest, "anything").status_code == 403
    assert _ask(Client(), "anything").status_code == 401


def plugged_validator(token: str) -> Identity | None:
    """An operator's own validator: here, session ids "session-<player>"."""
    if token.startswith("session-"):
        return Identity(token.removeprefix("session-"), None)
    if token == "stale":
        return Identity("p-1", timezone.now() - timedelta(seconds=1))
    return None


def test_it_uses_a_plugged_in_validator(pep, settings):
    settings.PLAYER_IDENTITY_VALIDATOR = "tests.api.test_identity.plugged_validator"
    Player.objects.create(player_id="p-1")
    assert _ask(pep, "session-p-1").json() == {"playerId": "p-1"}
    assert _ask(pep, "session-p-2").status_code == 401  # unknown player
    assert _ask(pep, "stale").status_code == 401  # expired, though the validator said yes
