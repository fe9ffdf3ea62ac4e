"""The credentials admin (owned by pepbridge.api) checked against the back office's rules."""

from __future__ import annotations

import pytest
from django.urls import reverse

from pepbridge.api import services
from pepbridge.api.models import ApiKey

pytestmark = pytest.mark.django_db


def test_admins_see_clients_and_keys_but_never_a_secret(staff_client) -> None:
    client = staff_client("Admins")
    issued_client = services.oauth_client_create(name="PEP prod")
    issued_key = services.api_key_create(name="platform")
    key = ApiKey.objects.get()
    pages = [
        reverse("admin:oauth2_provider_application_changelist"),
        reverse("admin:api_apikey_changelist"),
        reverse("admin:api_apikey_change", args=[key.pk]),
    ]
    for url in pages:
        body = client.get(url).content.decode()
        assert issued_client.client_secret not in body
        assert issued_key.api_key.split("_")[-1] not in body
        assert key.secret_hash not in body
    assert "PEP prod" in client.get(pages[0]).content.decode()


def test_admins_revoke_an_api_key(staff_client) -> None:
    client = staff_client("Admins")
    services.api_key_create(name="platform")
    key = ApiKey.objects.get()
    client.post(
        reverse("admin:api_apikey_changelist"),
        {"action": "revoke", "_selected_action": [str(key.pk)]},
    )
    key.refresh_from_db()
    assert key.revoked_at is not None


@pytest.mark.parametrize("group", ["Support", "Bonus managers", "Compliance"])
def test_other_groups_do_not_see_credentials(staff_client, group) -> None:
    client = staff_client(group)
    assert client.get(reverse("admin:api_apikey_changelist")).status_code == 403
    url = reverse("admin:oauth2_provider_application_changelist")
    assert client.get(url).status_code == 403
