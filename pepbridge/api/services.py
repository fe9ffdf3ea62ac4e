"""Issue and revoke inbound credentials. Secrets are returned once and stored only hashed."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_application_model
from oauth2_provider.settings import oauth2_settings

from pepbridge.api.authentication import API_KEY_PREFIX
from pepbridge.api.hashers import MachineSecretHasher, generate_secret
from pepbridge.api.models import ApiKey, ClientScope, Scope


@dataclass(frozen=True)
class IssuedClient:
    name: str
    client_id: str
    client_secret: str  # shown once; only its hash is stored
    scope: str


@dataclass(frozen=True)
class IssuedApiKey:
    name: str
    key_id: str
    api_key: str  # shown once; only its hash is stored
    scope: str


def _checked_scope(scope: str) -> str:
    if scope not in Scope.values:
        raise ValueError(f"unknown scope {scope!r}; choose one of {', '.join(Scope.values)}")
    return scope


@transaction.atomic
def oauth_client_create(*, name: str, scope: str = Scope.PEP) -> IssuedClient:
    """Create a confidential client-credentials client allowed exactly one scope."""
    scope = _checked_scope(scope)
    secret = generate_secret()
    application = get_application_model().objects.create(
        name=name,
        client_type="confidential",
        authorization_grant_type="client-credentials",
        client_secret=secret,  # hashed on save by DOT with CLIENT_SECRET_HASHER
        hash_client_secret=True,
    )
    ClientScope.objects.create(application=application, scope=scope)
    return IssuedClient(name, application.client_id, secret, scope)


def api_key_create(*, name: str, scope: str = Scope.PEP) -> IssuedApiKey:
    """Create an API key `pbk_<key_id>_<secret>` carrying exactly one scope."""
    scope = _checked_scope(scope)
    key_id, secret = secrets.token_hex(6), generate_secret()
    hashed = make_password(secret, hasher=MachineSecretHasher.algorithm)
    ApiKey.objects.create(name=name, key_id=key_id, secret_hash=hashed, scope=scope)
    return IssuedApiKey(name, key_id, f"{API_KEY_PREFIX}{key_id}_{secret}", scope)


def api_key_revoke(*, key_id: str) -> bool:
    """Revoke a key from now on; False if there is no such active key."""
    now = timezone.now()
    return bool(ApiKey.objects.filter(key_id=key_id, revoked_at=None).update(revoked_at=now))


def oauth_client_revoke_tokens(*, client_id: str) -> int:
    """Delete a client's access tokens, so its callers must ask for new ones."""
    tokens = get_access_token_model().objects.filter(application__client_id=client_id)
    return tokens.delete()[0]


def client_secret_hasher() -> str:
    """The hasher DOT uses for client secrets (asserted in tests: the fast one)."""
    return str(oauth2_settings.CLIENT_SECRET_HASHER)
