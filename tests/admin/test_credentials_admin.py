"""The credentials admin (owned by pepbridge.api) checked against the back office's rules."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from oauth2_provider.models import get_access_token_model, get_application_model

from pepbridge.api import services
from pepbridge.api.authentication import parse_api_key
from pepbridge.api.models import ApiKey

# The confirmation page's answer: risky actions need a reason (issue 13).
CONFIRMED = {"confirm": "yes", "reason": "ticket 42"}

pytestmark = pytest.mark.django_db
Application = get_application_model()
CLIENT_LIST = reverse("admin:oauth2_provider_application_changelist")
CLIENT_ADD = reverse("admin:oauth2_provider_application_add")
KEY_LIST = reverse("admin:api_apikey_changelist")
KEY_ADD = reverse("admin:api_apikey_add")
OTHER_GROUPS = ["Support", "Bonus managers", "Compliance"]


def token_for(client_id: str, secret: str):
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    return Client().post("/oauth/token", form)


def call_pep_api(token: str) -> int:
    """The status of an Operator API call with `token`: 400 (no body) if accepted, else 401."""
    response = Client().post(
        reverse("player-identity"), {}, content_type="application/json", HTTP_X_AUTHORIZATION=token
    )
    return response.status_code


def test_admins_see_clients_and_keys_but_never_a_secret(staff_client) -> None:
    client = staff_client("Admins")
    issued_client = services.oauth_client_create(name="PEP prod")
    issued_key = services.api_key_create(name="platform")
    key = ApiKey.objects.get()
    pages = [
        CLIENT_LIST,
        reverse("admin:oauth2_provider_application_change", args=[Application.objects.get().pk]),
        KEY_LIST,
        reverse("admin:api_apikey_change", args=[key.pk]),
    ]
    for url in pages:
        body = client.get(url).content.decode()
        assert issued_client.client_secret not in body
        assert issued_key.api_key.split("_", 2)[2] not in body  # the secret may hold "_"
        assert key.secret_hash not in body
    assert "PEP prod" in client.get(pages[0]).content.decode()


def test_admins_create_an_oauth_client_and_see_its_secret_once(staff_client) -> None:
    client = staff_client("Admins")
    assert client.get(CLIENT_ADD).status_code == 200
    response = client.post(CLIENT_ADD, {"name": "PEP production", "scope": "pep"})
    assert response.status_code == 200
    issued = response.context["issued"]
    assert issued.secret in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert not list(response.context["messages"])  # nothing kept in the session or a cookie
    app = Application.objects.get(client_id=issued.identifier)
    assert (app.name, app.pepbridge_scope.scope) == ("PEP production", "pep")
    assert issued.secret not in app.client_secret  # stored hashed
    assert token_for(app.client_id, issued.secret).status_code == 200  # the secret works
    for url in (CLIENT_LIST, reverse("admin:oauth2_provider_application_change", args=[app.pk])):
        assert issued.secret not in client.get(url).content.decode()


def test_admins_create_an_api_key_and_see_it_once(staff_client) -> None:
    client = staff_client("Admins")
    assert client.get(KEY_ADD).status_code == 200
    response = client.post(KEY_ADD, {"name": "loader", "scope": "ingest"})
    issued = response.context["issued"]
    key_id, secret = parse_api_key(issued.secret)
    key = ApiKey.objects.get(key_id=key_id)
    assert (key.name, key.scope, issued.identifier) == ("loader", "ingest", key_id)
    assert secret in response.content.decode()
    assert key.check_secret(secret)
    assert secret not in key.secret_hash
    for url in (KEY_LIST, reverse("admin:api_apikey_change", args=[key.pk])):
        assert secret not in client.get(url).content.decode()


def test_an_invalid_add_form_creates_nothing(staff_client) -> None:
    client = staff_client("Admins")
    response = client.post(KEY_ADD, {"name": "", "scope": "everything"})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"name", "scope"}
    assert not ApiKey.objects.exists()


@pytest.mark.parametrize("group", OTHER_GROUPS)
def test_other_groups_can_neither_see_nor_create_credentials(staff_client, group) -> None:
    client = staff_client(group)
    for url in (KEY_LIST, CLIENT_LIST, KEY_ADD, CLIENT_ADD):
        assert client.get(url).status_code == 403, url
    assert client.post(KEY_ADD, {"name": "x", "scope": "pep"}).status_code == 403
    assert client.post(CLIENT_ADD, {"name": "x", "scope": "pep"}).status_code == 403
    assert not ApiKey.objects.exists()
    assert not Application.objects.exists()


def test_viewing_credentials_alone_offers_no_create_revoke_or_disable(db) -> None:
    user = get_user_model().objects.create_user("auditor", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_apikey", "view_application"])
    )
    client = Client()
    client.force_login(user)
    services.oauth_client_create(name="PEP")
    services.api_key_create(name="platform")
    assert client.get(CLIENT_LIST).context["action_form"] is None
    assert client.get(KEY_LIST).context["action_form"] is None
    assert client.get(KEY_ADD).status_code == 403
    app = Application.objects.get()
    client.post(CLIENT_LIST, {"action": "disable", "_selected_action": [str(app.pk)], **CONFIRMED})
    app.refresh_from_db()
    assert not services.oauth_client_is_disabled(app)


def test_admins_revoke_an_api_key(staff_client) -> None:
    client = staff_client("Admins")
    services.api_key_create(name="platform")
    key = ApiKey.objects.get()
    client.post(KEY_LIST, {"action": "revoke", "_selected_action": [str(key.pk)], **CONFIRMED})
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_a_disabled_client_gets_no_token_and_its_token_is_refused(staff_client) -> None:
    client = staff_client("Admins")
    issued = services.oauth_client_create(name="PEP")
    token = token_for(issued.client_id, issued.client_secret).json()["access_token"]
    assert call_pep_api(token) == 400
    app = Application.objects.get()
    response = client.post(
        CLIENT_LIST,
        {"action": "disable", "_selected_action": [str(app.pk)], **CONFIRMED},
        follow=True,
    )
    assert "1 client(s) disabled." in [str(m) for m in response.context["messages"]]
    assert call_pep_api(token) == 401
    refused = token_for(issued.client_id, issued.client_secret)
    assert refused.status_code == 400
    assert refused.json()["error"] == "unauthorized_client"
    assert not get_access_token_model().objects.exists()
    assert "Disabled" in client.get(CLIENT_LIST).content.decode()


def test_a_re_enabled_client_gets_tokens_again(staff_client) -> None:
    client = staff_client("Admins")
    issued = services.oauth_client_create(name="PEP")
    services.oauth_client_disable(client_id=issued.client_id)
    app = Application.objects.get()
    client.post(CLIENT_LIST, {"action": "enable", "_selected_action": [str(app.pk)]})
    token = token_for(issued.client_id, issued.client_secret).json()["access_token"]
    assert call_pep_api(token) == 400


def test_revoking_tokens_alone_leaves_the_client_able_to_ask_again(staff_client) -> None:
    client = staff_client("Admins")
    issued = services.oauth_client_create(name="PEP")
    token = token_for(issued.client_id, issued.client_secret).json()["access_token"]
    app = Application.objects.get()
    client.post(CLIENT_LIST, {"action": "revoke_tokens", "_selected_action": [str(app.pk)]})
    assert call_pep_api(token) == 401
    assert token_for(issued.client_id, issued.client_secret).status_code == 200


def test_a_token_that_survived_the_disable_is_refused_all_the_same(db) -> None:
    """A token issued while the disable was committing is not among those it revoked."""
    issued = services.oauth_client_create(name="PEP")
    token = token_for(issued.client_id, issued.client_secret).json()["access_token"]
    Application.objects.filter(client_id=issued.client_id).update(
        authorization_grant_type=services.DISABLED_GRANT
    )
    assert get_access_token_model().objects.exists()  # not revoked: only the mark is set
    assert call_pep_api(token) == 401
