"""The players half of the ingestion API: create, read, update, erase; scope and error shape."""

from __future__ import annotations

import json

import pytest

from events.models import OutboxMessage
from players.models import Player
from tests.players.api_helpers import client_with_scope

pytestmark = pytest.mark.django_db
URL = "/ingest/v1/players"
PLAYER = {
    "playerId": "p-1",
    "email": "anna@example.com",
    "phone": "+41791234567",
    "country": "CH",
    "currency": "EUR",
    "registrationDate": "2024-03-01T10:15:00Z",
    "marketingConsents": [
        {"channel": "email", "granted": True, "changedAt": "2024-03-01T10:15:00Z"}
    ],
}


@pytest.fixture
def api():
    return client_with_scope("ingest")


def post(api, body, url=URL):
    return api.post(url, data=json.dumps(body), content_type="application/json")


def test_it_creates_a_player_and_answers_201(api):
    answer = post(api, PLAYER)
    assert answer.status_code == 201, answer.content
    assert answer.json()["playerId"] == "p-1"
    assert answer.json()["marketingConsents"][0]["channel"] == "email"
    assert OutboxMessage.objects.filter(message_type="player_registration").count() == 1


def test_it_answers_200_for_the_same_player_again_and_sends_nothing_more(api):
    post(api, PLAYER)
    before = OutboxMessage.objects.count()
    answer = post(api, PLAYER)
    assert answer.status_code == 200
    assert OutboxMessage.objects.count() == before


def test_it_answers_409_naming_the_differing_fields(api):
    post(api, PLAYER)
    answer = post(api, {**PLAYER, "email": "other@example.com"})
    assert answer.status_code == 409
    body = answer.json()
    assert body["statusCode"] == 409
    assert list(body["errors"]) == ["email"]


def test_it_answers_400_with_every_bad_field_named(api):
    answer = post(api, {**PLAYER, "phone": "079", "country": "Switzerland", "birthDate": "x"})
    assert answer.status_code == 400
    body = answer.json()
    assert body["statusCode"] == 400
    assert set(body["errors"]) == {"phone", "country", "birthDate"}
    assert Player.objects.count() == 0


def test_it_answers_400_for_malformed_json(api):
    answer = api.post(URL, data='{"playerId": "p-1",', content_type="application/json")
    assert answer.status_code == 400
    assert answer.json()["statusCode"] == 400


def test_it_reads_a_player(api):
    post(api, PLAYER)
    answer = api.get(f"{URL}/p-1")
    assert answer.status_code == 200
    assert answer.json()["email"] == "anna@example.com"
    assert answer.json()["erasedAt"] is None


def test_it_answers_404_for_an_unknown_player(api):
    assert api.get(f"{URL}/nobody").status_code == 404
    answer = api.patch(f"{URL}/nobody", data={"city": "Bern"}, format="json")
    assert answer.status_code == 404


def test_it_updates_only_what_changed_and_lists_it(api):
    post(api, PLAYER)
    answer = api.patch(f"{URL}/p-1", data={"city": "Bern", "country": "CH"}, format="json")
    assert answer.status_code == 200
    assert answer.json()["changed"] == ["city"]
    last = OutboxMessage.objects.filter(message_type="player_update").order_by("pk").last()
    assert json.loads(last.body) == {"city": "Bern"}


def test_it_refuses_to_change_the_player_id(api):
    post(api, PLAYER)
    answer = api.patch(f"{URL}/p-1", data={"playerId": "p-2"}, format="json")
    assert answer.status_code == 400
    assert "playerId" in answer.json()["errors"]


def test_it_erases_a_player_and_then_refuses_changes_with_410(api):
    post(api, PLAYER)
    answer = api.delete(f"{URL}/p-1")
    assert answer.status_code == 202
    assert answer.json()["email"] == ""
    assert answer.json()["erasedAt"] is not None
    assert OutboxMessage.objects.filter(message_type="player_delete").count() == 1
    assert api.patch(f"{URL}/p-1", data={"city": "Bern"}, format="json").status_code == 410
    assert api.delete(f"{URL}/p-1").status_code == 202
    assert OutboxMessage.objects.filter(message_type="player_delete").count() == 1


def test_it_refuses_a_request_without_credentials():
    from rest_framework.test import APIClient

    answer = APIClient().post(URL, data=PLAYER, format="json")
    assert answer.status_code == 401


def test_it_refuses_a_pep_credential():
    answer = post(client_with_scope("pep"), PLAYER)
    assert answer.status_code == 403
    assert Player.objects.count() == 0


def test_it_refuses_a_body_over_the_limit(api, settings):
    settings.INGEST_MAX_BODY_BYTES = 1024
    answer = post(api, {**PLAYER, "city": "x" * 2000})
    assert answer.status_code == 413
    assert "limit is 1,024 bytes" in answer.json()["message"]


def test_it_names_the_calling_client_to_the_change_hooks(api, hooks):
    post(api, PLAYER)
    api.patch(f"{URL}/p-1", data=json.dumps({"city": "Bern"}), content_type="application/json")
    assert len(hooks.causes) == 2
    assert all(cause and cause.startswith("api:oauth:") for cause in hooks.causes)


@pytest.mark.parametrize("stored", ["..", "a b"])
def test_it_erases_a_player_whose_old_stored_id_is_no_safe_path_locally(api, caplog, stored):
    # Written before ids were checked: PEP's delete URL cannot name this player.
    player = Player.objects.create(player_id=stored, email="anna@example.com")
    answer = api.delete(f"{URL}/{stored.replace('.', '%2E').replace(' ', '%20')}")
    assert answer.status_code == 202
    player.refresh_from_db()
    assert (player.email, player.erased_at is not None) == ("", True)
    assert not OutboxMessage.objects.filter(message_type="player_delete").exists()
    assert f"player_erase_pep_not_told player_pk={player.pk}" in caplog.text
    assert stored not in caplog.text.split("player_erase_pep_not_told", 1)[1]
