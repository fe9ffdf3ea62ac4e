"""Credentials for the api tests: real OAuth clients, tokens and API keys, made by the services."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from pepbridge.api import services


@pytest.fixture(autouse=True)
def _api_test_setup(settings) -> None:
    """This app's routes plus the test views; throttle counters (in the cache) from zero."""
    settings.ROOT_URLCONF = "tests.api.urls"
    cache.clear()


@pytest.fixture
def make_token(db: None) -> Callable[..., str]:
    """Issue an access token through /oauth/token for a new client with `scope`."""

    def make(scope: str = "pep") -> str:
        issued = services.oauth_client_create(name=f"client-{scope}", scope=scope)
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

    return make


@pytest.fixture
def make_key(db: None) -> Callable[..., str]:
    def make(scope: str = "pep") -> str:
        return services.api_key_create(name=f"key-{scope}", scope=scope).api_key

    return make


def expire_all_tokens() -> None:
    past = timezone.now() - timedelta(seconds=1)
    get_access_token_model().objects.update(expires=past)
