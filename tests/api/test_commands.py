"""create_pep_client / create_pep_api_key: print the secret once, store only its hash."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from oauth2_provider.models import get_application_model

from pepbridge.api.models import ApiKey, ClientScope

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_pep_client_prints_json_and_stores_the_secret_hashed():
    printed = json.loads(_run("create_pep_client", "PEP production", "--json"))
    assert set(printed) == {"name", "client_id", "client_secret", "scope", "sender"}
    assert (printed["scope"], printed["sender"]) == ("pep", "pep")
    assert len(printed["client_secret"]) >= 43  # 256 bits
    app = get_application_model().objects.get(client_id=printed["client_id"])
    assert app.name == "PEP production"
    assert app.client_secret.startswith("pepbridge_hmac_sha256$")
    assert printed["client_secret"] not in app.client_secret
    assert ClientScope.objects.get(application=app).scope == "pep"


def test_the_printed_client_secret_gets_a_token():
    printed = json.loads(_run("create_pep_client", "platform", "--scope", "ingest", "--json"))
    form = {
        "grant_type": "client_credentials",
        "client_id": printed["client_id"],
        "client_secret": printed["client_secret"],
    }
    response = Client().post("/oauth/token", form)
    assert response.status_code == 200
    assert response.json()["scope"] == "ingest"


def test_create_pep_client_prints_the_secret_once_in_text():
    text = _run("create_pep_client", "PEP")
    app = get_application_model().objects.get()
    assert app.client_id in text
    secret_line = next(line for line in text.splitlines() if line.startswith("client_secret:"))
    secret = secret_line.split()[-1]
    assert text.count(secret) == 1
    assert secret not in app.client_secret


def test_create_pep_api_key_prints_json_and_stores_the_key_hashed():
    printed = json.loads(_run("create_pep_api_key", "PEP key", "--json"))
    assert printed["api_key"].startswith(f"pbk_{printed['key_id']}_")
    key = ApiKey.objects.get(key_id=printed["key_id"])
    assert key.scope == "pep"
    assert key.secret_hash.startswith("pepbridge_hmac_sha256$")
    secret = printed["api_key"].split("_", 2)[2]
    assert secret not in key.secret_hash
    response = Client().get("/test/pep", headers={"x-api-key": printed["api_key"]})
    assert response.status_code == 200


def test_create_pep_api_key_takes_the_ingest_scope():
    printed = json.loads(_run("create_pep_api_key", "platform", "--scope", "ingest", "--json"))
    assert ApiKey.objects.get(key_id=printed["key_id"]).scope == "ingest"


def test_both_commands_refuse_an_unknown_scope():
    for command in ("create_pep_client", "create_pep_api_key"):
        with pytest.raises(CommandError):
            call_command(command, "x", "--scope", "admin")


def test_both_commands_take_the_sender_and_default_to_pep():
    client = json.loads(_run("create_pep_client", "staging", "--sender", "pep-staging", "--json"))
    key = json.loads(_run("create_pep_api_key", "staging", "--sender", "pep-staging", "--json"))
    default = json.loads(_run("create_pep_api_key", "production", "--json"))
    assert (client["sender"], key["sender"], default["sender"]) == ("pep-staging",) * 2 + ("pep",)
    app = get_application_model().objects.get(client_id=client["client_id"])
    assert ClientScope.objects.get(application=app).sender == "pep-staging"
    assert ApiKey.objects.get(key_id=key["key_id"]).sender == "pep-staging"
    assert ApiKey.objects.get(key_id=default["key_id"]).sender == "pep"
    assert "sender 'pep-staging'" in _run("create_pep_api_key", "text", "--sender", "pep-staging")


@pytest.mark.parametrize("sender", ["", "PEP", "a" * 65, "legacy-7", "pep staging"])
def test_both_commands_refuse_a_sender_that_cannot_name_an_instance(sender):
    for command in ("create_pep_client", "create_pep_api_key"):
        with pytest.raises(CommandError, match="--sender"):
            call_command(command, "x", "--sender", sender)
    assert not ApiKey.objects.exists() and not ClientScope.objects.exists()
