"""Issue and revoke inbound credentials. Secrets are returned once and stored only hashed."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_application_model
from oauth2_provider.settings import oauth2_settings

from pepbridge.api.authentication import API_KEY_PREFIX, DISABLED_GRANT
from pepbridge.api.hashers import MachineSecretHasher, generate_secret
from pepbridge.api.models import DEFAULT_SENDER, ApiKey, ClientScope, Scope, sender_problem


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


def _checked_sender(sender: str) -> str:
    problem = sender_problem(sender)
    if problem:
        raise ValueError(f"sender {sender!r}: {problem}")
    return sender


@transaction.atomic
def oauth_client_create(
    *, name: str, scope: str = Scope.PEP, sender: str = DEFAULT_SENDER
) -> IssuedClient:
    """Create a confidential client-credentials client allowed exactly one scope.

    `sender` is the PEP instance it belongs to (shared idempotency; keep the default).
    """
    scope, sender = _checked_scope(scope), _checked_sender(sender)
    secret = generate_secret()
    application = get_application_model().objects.create(
        name=name,
        client_type="confidential",
        authorization_grant_type=CLIENT_GRANT,
        client_secret=secret,  # hashed on save by DOT with CLIENT_SECRET_HASHER
        hash_client_secret=True,
    )
    ClientScope.objects.create(application=application, scope=scope, sender=sender)
    return IssuedClient(name, application.client_id, secret, scope)


def api_key_create(
    *, name: str, scope: str = Scope.PEP, sender: str = DEFAULT_SENDER
) -> IssuedApiKey:
    """Create an API key `pbk_<key_id>_<secret>` carrying exactly one scope (and a sender)."""
    scope, sender = _checked_scope(scope), _checked_sender(sender)
    key_id, secret = secrets.token_hex(6), generate_secret()
    hashed = make_password(secret, hasher=MachineSecretHasher.algorithm)
    ApiKey.objects.create(name=name, key_id=key_id, secret_hash=hashed, scope=scope, sender=sender)
    return IssuedApiKey(name, key_id, f"{API_KEY_PREFIX}{key_id}_{secret}", scope)


def api_key_revoke(*, key_id: str) -> bool:
    """Revoke a key from now on; False if there is no such active key."""
    now = timezone.now()
    return bool(ApiKey.objects.filter(key_id=key_id, revoked_at=None).update(revoked_at=now))


def oauth_client_revoke_tokens(*, client_id: str) -> int:
    """Delete a client's access tokens, so its callers must ask for new ones."""
    tokens = get_access_token_model().objects.filter(application__client_id=client_id)
    return tokens.delete()[0]


# DISABLED_GRANT is not a grant oauthlib knows: a client with it fails the token endpoint's grant
# check (`Application.allows_grant_type`) with `unauthorized_client`, and its tokens fail
# OAuthTokenAuthentication. The toolkit's Application has no "active" flag, and its
# `is_usable()` hook needs a swapped Application model.
CLIENT_GRANT = "client-credentials"


def oauth_client_is_disabled(application: Any) -> bool:
    return bool(application.authorization_grant_type == DISABLED_GRANT)


@transaction.atomic
def oauth_client_disable(*, client_id: str) -> bool:
    """Refuse the client new tokens and revoke the ones it holds; False if already disabled.

    Revoking tokens alone lets the client fetch a new one at once. The client, its id and its
    hashed secret stay, so `oauth_client_enable` restores it without a new secret. A token
    request already past the grant check when this commits may still store a token; it lives
    at most OAUTH_ACCESS_TOKEN_LIFETIME (docs/credentials.md).
    """
    changed = (
        get_application_model()
        .objects.filter(client_id=client_id)
        .exclude(authorization_grant_type=DISABLED_GRANT)
        .update(authorization_grant_type=DISABLED_GRANT, updated=timezone.now())
    )
    oauth_client_revoke_tokens(client_id=client_id)
    return bool(changed)


def oauth_client_enable(*, client_id: str) -> bool:
    """Let a disabled client ask for tokens again; False if it was not disabled."""
    changed = (
        get_application_model()
        .objects.filter(client_id=client_id, authorization_grant_type=DISABLED_GRANT)
        .update(authorization_grant_type=CLIENT_GRANT, updated=timezone.now())
    )
    return bool(changed)


def client_secret_hasher() -> str:
    """The hasher DOT uses for client secrets (asserted in tests: the fast one)."""
    return str(oauth2_settings.CLIENT_SECRET_HASHER)
