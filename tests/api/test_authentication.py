"""Every way PEP (or the platform) may present a credential, and what happens when it is wrong."""

from __future__ import annotations

import pytest
from django.test import Client

from pepbridge.api import services
from tests.api.conftest import expire_all_tokens

pytestmark = pytest.mark.django_db

CHALLENGE = 'Bearer realm="pepbridge"'


def _get(**headers: str):
    return Client().get("/test/pep", headers=headers)


def test_it_accepts_a_raw_token_in_x_authorization(make_token):
    response = _get(**{"x-authorization": make_token()})
    assert response.status_code == 200
    assert response.json()["key"].startswith("oauth:")


def test_it_accepts_a_bearer_token_in_x_authorization(make_token):
    assert _get(**{"x-authorization": f"Bearer {make_token()}"}).status_code == 200


def test_it_accepts_a_standard_authorization_bearer_header(make_token):
    assert _get(Authorization=f"Bearer {make_token()}").status_code == 200


def test_it_accepts_an_api_key_in_x_api_key(make_key):
    response = _get(**{"x-api-key": make_key()})
    assert response.status_code == 200
    assert response.json()["key"].startswith("apikey:")


def test_it_accepts_an_api_key_in_x_authorization_with_or_without_bearer(make_key):
    key = make_key()
    assert _get(**{"x-authorization": key}).status_code == 200
    assert _get(**{"x-authorization": f"Bearer {key}"}).status_code == 200


def test_it_names_the_client_by_a_stable_key_and_a_label(make_key):
    issued = services.api_key_create(name="PEP staging", scope="pep")
    body = _get(**{"x-api-key": issued.api_key}).json()
    assert body == {
        "key": f"apikey:{issued.key_id}",
        "label": f"PEP staging (apikey:{issued.key_id})",
    }


def test_it_keys_an_oauth_client_by_its_client_id():
    issued = services.oauth_client_create(name="PEP", scope="pep")
    token = (
        Client()
        .post(
            "/oauth/token",
            {
                "grant_type": "client_credentials",
                "client_id": issued.client_id,
                "client_secret": issued.client_secret,
            },
        )
        .json()["access_token"]
    )
    body = _get(**{"x-authorization": token}).json()
    assert body["key"] == f"oauth:{issued.client_id}"


def test_it_refuses_a_revoked_api_key_with_401(make_key):
    issued = services.api_key_create(name="old", scope="pep")
    assert services.api_key_revoke(key_id=issued.key_id)
    response = _get(**{"x-api-key": issued.api_key})
    assert response.status_code == 401
    assert response.json()["message"] == "The API key has been revoked."


def test_it_refuses_an_api_key_with_a_wrong_secret(make_key):
    key_id = make_key().split("_")[1]
    response = _get(**{"x-api-key": f"pbk_{key_id}_{'A' * 43}"})
    assert response.status_code == 401


def test_it_refuses_an_expired_token_with_401(make_token):
    token = make_token()
    expire_all_tokens()
    response = _get(**{"x-authorization": token})
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == CHALLENGE


def test_it_refuses_an_unknown_token_with_401(db):
    response = _get(**{"x-authorization": "Bearer not-a-token"})
    assert response.status_code == 401
    assert response.json()["error"] == "Unauthorized"


def test_it_answers_401_with_www_authenticate_without_credentials(db):
    response = _get()
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == CHALLENGE
    assert response.json() == {
        "statusCode": 401,
        "error": "Unauthorized",
        "message": "Authentication credentials were not provided.",
    }


def test_it_ignores_a_basic_authorization_header(db):
    # Not a credential of ours: the same answer as none at all.
    assert _get(Authorization="Basic dXNlcjpwYXNz").status_code == 401


@pytest.mark.parametrize("style", ["token", "key"])
def test_a_pep_credential_cannot_call_the_ingestion_api(style, make_token, make_key):
    credential = make_token("pep") if style == "token" else make_key("pep")
    response = Client().post("/test/ingest", headers={"x-authorization": credential})
    assert response.status_code == 403
    assert response.json()["statusCode"] == 403


@pytest.mark.parametrize("style", ["token", "key"])
def test_an_ingest_credential_cannot_call_the_operator_api(style, make_token, make_key):
    credential = make_token("ingest") if style == "token" else make_key("ingest")
    assert _get(**{"x-authorization": credential}).status_code == 403
    ingest = Client().post("/test/ingest", headers={"x-authorization": credential})
    assert ingest.status_code == 200


def test_a_view_that_declares_no_scope_is_refused_to_everyone(make_key):
    response = Client().get("/test/undeclared", headers={"x-api-key": make_key()})
    assert response.status_code == 403


def test_a_client_without_a_scope_row_gets_a_token_that_opens_nothing(db):
    issued = services.oauth_client_create(name="PEP", scope="pep")
    from pepbridge.api.models import ClientScope

    ClientScope.objects.all().delete()
    form = {
        "grant_type": "client_credentials",
        "client_id": issued.client_id,
        "client_secret": issued.client_secret,
    }
    token = Client().post("/oauth/token", form).json()["access_token"]
    assert _get(**{"x-authorization": token}).status_code == 403
