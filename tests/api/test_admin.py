"""The admin pages for clients, tokens and API keys never show a token, secret or hash."""

from __future__ import annotations

import hashlib

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client
from oauth2_provider.models import get_access_token_model, get_application_model

from pepbridge.api import services
from pepbridge.api.admin import AccessTokenAdmin, ApiKeyAdmin, ClientAdmin
from pepbridge.api.models import ApiKey
from pepbridge.backoffice.models import StaffAction

# The confirmation page's answer: risky actions need a reason (issue 13).
CONFIRMED = {"confirm": "yes", "reason": "ticket 42"}

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff() -> Client:
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw-123456789")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def secrets_in_db() -> list[str]:
    """Create one of everything and return every string no page may show."""
    issued = services.oauth_client_create(name="PEP production", scope="pep")
    form = {
        "grant_type": "client_credentials",
        "client_id": issued.client_id,
        "client_secret": issued.client_secret,
    }
    token = Client().post("/oauth/token", form).json()["access_token"]
    key = services.api_key_create(name="PEP key", scope="pep")
    app = get_application_model().objects.get(client_id=issued.client_id)
    key_row = ApiKey.objects.get(key_id=key.key_id)
    return [
        issued.client_secret,
        token,
        hashlib.sha256(token.encode()).hexdigest(),
        key.api_key,
        key.api_key.split("_", 2)[2],
        app.client_secret.split("$")[2],  # the stored hash
        key_row.secret_hash.split("$")[2],
    ]


def _pages() -> list[str]:
    app = get_application_model().objects.get()
    token = get_access_token_model().objects.get()
    key = ApiKey.objects.get()
    return [
        "/admin/oauth2_provider/application/",
        f"/admin/oauth2_provider/application/{app.pk}/change/",
        "/admin/oauth2_provider/accesstoken/",
        f"/admin/oauth2_provider/accesstoken/{token.pk}/change/",
        "/admin/api/apikey/",
        f"/admin/api/apikey/{key.pk}/change/",
    ]


def test_no_admin_page_shows_a_token_or_secret(staff, secrets_in_db):
    for page in _pages():
        response = staff.get(page)
        assert response.status_code == 200, page
        html = response.content.decode()
        for secret in secrets_in_db:
            assert secret not in html, f"{page} shows a secret"
    assert "PEP production" in staff.get("/admin/oauth2_provider/application/").content.decode()


def test_the_toolkits_admin_classes_are_replaced():
    assert isinstance(admin.site._registry[get_application_model()], ClientAdmin)
    assert isinstance(admin.site._registry[get_access_token_model()], AccessTokenAdmin)
    assert isinstance(admin.site._registry[ApiKey], ApiKeyAdmin)


def test_the_add_pages_show_a_form_and_no_secret(staff, secrets_in_db):
    for page in ("/admin/oauth2_provider/application/add/", "/admin/api/apikey/add/"):
        response = staff.get(page)
        assert response.status_code == 200, page
        assert "Create and show the secret" in response.content.decode()
        for secret in secrets_in_db:
            assert secret not in response.content.decode(), page


def test_the_secret_of_a_new_credential_is_shown_only_on_the_answer_to_its_creation(staff):
    answer = staff.post("/admin/api/apikey/add/", {"name": "new", "scope": "pep"})
    api_key = answer.context["issued"].secret
    assert api_key in answer.content.decode()
    key = ApiKey.objects.get()
    for page in ("/admin/api/apikey/", f"/admin/api/apikey/{key.pk}/change/", "/admin/"):
        assert api_key.split("_", 2)[2] not in staff.get(page).content.decode(), page


def test_the_token_tables_have_no_add_page(staff):
    assert staff.get("/admin/oauth2_provider/accesstoken/add/").status_code == 403


def test_staff_can_disable_a_client(staff, secrets_in_db):
    app = get_application_model().objects.get()
    staff.post(
        "/admin/oauth2_provider/application/",
        {"action": "disable", "_selected_action": [app.pk], **CONFIRMED},
    )
    app.refresh_from_db()
    assert services.oauth_client_is_disabled(app)
    assert not get_access_token_model().objects.exists()


def test_staff_can_revoke_api_keys_from_the_list(staff, secrets_in_db):
    key = ApiKey.objects.get()
    response = staff.post(
        "/admin/api/apikey/",
        {"action": "revoke", "_selected_action": [key.pk], **CONFIRMED},
        follow=True,
    )
    assert response.status_code == 200
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_staff_can_revoke_a_clients_tokens(staff, secrets_in_db):
    app = get_application_model().objects.get()
    staff.post(
        "/admin/oauth2_provider/application/",
        {"action": "revoke_tokens", "_selected_action": [app.pk]},
    )
    assert not get_access_token_model().objects.exists()


def test_the_credential_lists_and_pages_show_the_sender(staff):
    services.oauth_client_create(name="PEP staging client", scope="pep", sender="pep-staging")
    services.api_key_create(name="PEP staging key", scope="pep", sender="pep-staging")
    app, key = get_application_model().objects.get(), ApiKey.objects.get()
    for page in (
        "/admin/oauth2_provider/application/",
        f"/admin/oauth2_provider/application/{app.pk}/change/",
        "/admin/api/apikey/",
        f"/admin/api/apikey/{key.pk}/change/",
    ):
        assert "pep-staging" in staff.get(page).content.decode(), page


def test_the_add_page_sets_the_sender_and_records_it(staff):
    form = {"name": "staging", "scope": "pep", "sender": "pep-staging"}
    answer = staff.post("/admin/api/apikey/add/", form)
    assert answer.context["issued"].sender == "pep-staging"
    assert ApiKey.objects.get().sender == "pep-staging"
    assert StaffAction.objects.get().outcome == "scope pep, sender pep-staging"


def test_the_add_page_refuses_a_bad_sender_and_creates_nothing(staff):
    form = {"name": "x", "scope": "pep", "sender": "legacy-1"}
    for page in ("/admin/api/apikey/add/", "/admin/oauth2_provider/application/add/"):
        answer = staff.post(page, form)
        assert answer.status_code == 200 and "issued" not in answer.context, page
        assert answer.context["form"].errors["sender"], page
    assert not ApiKey.objects.exists() and not get_application_model().objects.exists()
