"""POST /oauth/token: client credentials as a form, HTTP Basic or JSON; per-client scopes."""

from __future__ import annotations

import base64
import json

import pytest
from django.test import Client
from oauth2_provider.models import get_access_token_model

from pepbridge.api import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def pep_client() -> services.IssuedClient:
    return services.oauth_client_create(name="PEP", scope="pep")


def _form(issued: services.IssuedClient, **extra: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": issued.client_id,
        "client_secret": issued.client_secret,
        **extra,
    }


def _assert_token(response) -> dict:
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "pep"
    assert body["access_token"]
    return body


def test_it_issues_a_token_for_form_encoded_credentials(pep_client):
    _assert_token(Client().post("/oauth/token", _form(pep_client)))


def test_it_issues_a_token_for_http_basic_credentials(pep_client):
    pair = f"{pep_client.client_id}:{pep_client.client_secret}".encode()
    response = Client().post(
        "/oauth/token",
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=f"Basic {base64.b64encode(pair).decode()}",
    )
    _assert_token(response)


def test_it_issues_a_token_for_a_json_body(pep_client):
    response = Client().post(
        "/oauth/token", json.dumps(_form(pep_client)), content_type="application/json"
    )
    _assert_token(response)


def test_it_accepts_peps_camel_case_json_without_grant_type(pep_client):
    body = {"clientId": pep_client.client_id, "clientSecret": pep_client.client_secret}
    response = Client().post("/oauth/token", json.dumps(body), content_type="application/json")
    _assert_token(response)


def test_it_answers_with_and_without_the_trailing_slash(pep_client):
    _assert_token(Client().post("/oauth/token/", _form(pep_client)))


def test_it_refuses_a_wrong_secret_in_oauth_and_house_shape(pep_client):
    wrong = _form(pep_client, client_secret="x" * 43)
    response = Client().post("/oauth/token", wrong)
    assert response.status_code == 401
    body = response.json()
    assert body["error"] == "invalid_client"
    assert body["statusCode"] == 401
    assert body["message"]


def test_it_refuses_a_scope_the_client_does_not_have(pep_client):
    response = Client().post("/oauth/token", _form(pep_client, scope="ingest"))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"
    assert not get_access_token_model().objects.exists()


def test_it_gives_an_ingest_client_only_the_ingest_scope():
    issued = services.oauth_client_create(name="platform", scope="ingest")
    response = Client().post("/oauth/token", _form(issued))
    assert response.json()["scope"] == "ingest"


def test_it_stores_only_a_checksum_of_the_token(pep_client):
    token = _assert_token(Client().post("/oauth/token", _form(pep_client)))["access_token"]
    stored = get_access_token_model().objects.get()
    assert stored.token == ""
    assert token not in stored.token_checksum


def test_it_takes_the_token_lifetime_from_settings(pep_client, settings):
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "ACCESS_TOKEN_EXPIRE_SECONDS": 120,
        "ALWAYS_RELOAD_OAUTHLIB_CORE": True,  # the view caches the server with its lifetime
    }
    response = Client().post("/oauth/token", _form(pep_client))
    assert response.json()["expires_in"] == 120


def test_it_answers_get_with_405_in_the_error_shape():
    response = Client().get("/oauth/token")
    assert response.status_code == 405
    assert response.json() == {
        "statusCode": 405,
        "error": "Method Not Allowed",
        "message": 'Method "GET" not allowed.',
    }


def test_it_registers_the_hourly_clear_expired_schedule():
    from django_q.models import Schedule

    schedule = Schedule.objects.get(name="api: clear expired OAuth tokens")
    assert schedule.func == "oauth2_provider.models.clear_expired"
    assert schedule.schedule_type == Schedule.HOURLY
