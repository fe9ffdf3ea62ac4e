"""An API client holding a token with a given scope (a DOT access token, as /oauth/token issues)."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.utils import timezone
from oauth2_provider.models import AccessToken, Application
from rest_framework.test import APIClient


def client_with_scope(scope: str) -> APIClient:
    app = Application.objects.create(
        name=f"test-{scope}-{secrets.token_hex(4)}",
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
    )
    token = AccessToken.objects.create(
        application=app,
        token=secrets.token_urlsafe(24),
        scope=scope,
        expires=timezone.now() + timedelta(hours=1),
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.token}")
    return client
