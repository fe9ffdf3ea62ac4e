"""DRF authentication for the inbound APIs: OAuth2 access tokens and API keys.

PEP sends its credential in `x-authorization` (with or without `Bearer `); the standard
`Authorization: Bearer` works too, and API keys may also come in `x-api-key`. Both classes follow
DRF's contract: None when their header is absent, AuthenticationFailed when it is present but
wrong. The authenticated `request.user` is an `ApiPrincipal`, never a Django user.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import ClassVar

from oauth2_provider.models import get_access_token_model
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated
from rest_framework.request import Request

from pepbridge.api.models import DEFAULT_SENDER, ApiKey, ClientScope

API_KEY_PREFIX = "pbk_"
# A grant type no endpoint serves: how a disabled OAuth client is marked (api.services).
DISABLED_GRANT = "disabled"
REALM = "pepbridge"


@dataclass(frozen=True)
class ApiPrincipal:
    """Who called: an OAuth client or an API key, with the scopes its credential carries."""

    kind: str  # "oauth" or "apikey"
    ident: str  # the OAuth client_id or the API key's key_id: stable, never secret
    name: str
    scopes: frozenset[str]
    sender: str = DEFAULT_SENDER  # the PEP instance the credential belongs to

    is_authenticated: ClassVar[bool] = True
    is_anonymous: ClassVar[bool] = False

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.ident}"

    @property
    def label(self) -> str:
        return f"{self.name} ({self.key})"


def principal_of(request: Request) -> ApiPrincipal | None:
    user = getattr(request, "user", None)
    return user if isinstance(user, ApiPrincipal) else None


def client_key(request: Request) -> str:
    """A stable key for the caller ("oauth:<client_id>" / "apikey:<key_id>"), for idempotency."""
    principal = principal_of(request)
    if principal is None:
        raise NotAuthenticated()
    return principal.key


def sender_of(request: Request) -> str:
    """The PEP instance that called, whichever of its credentials it used (idempotency key)."""
    principal = principal_of(request)
    if principal is None:
        raise NotAuthenticated()
    return principal.sender


def client_label(request: Request) -> str:
    """A readable name for audit records, e.g. "PEP production (oauth:3fa9...)"."""
    principal = principal_of(request)
    if principal is None:
        raise NotAuthenticated()
    return principal.label


def _header(request: Request, name: str) -> str | None:
    value = request.META.get(name)
    return None if value is None else value.strip()


def _strip_bearer(value: str) -> str:
    scheme, _, rest = value.partition(" ")
    return rest.strip() if scheme.lower() == "bearer" else value


def presented_token(request: Request) -> str | None:
    """The credential in x-authorization (raw or Bearer) or in Authorization: Bearer."""
    value = _header(request, "HTTP_X_AUTHORIZATION")
    if value is not None:
        return _strip_bearer(value)
    value = _header(request, "HTTP_AUTHORIZATION")
    if value is not None and value.lower().startswith("bearer "):
        return _strip_bearer(value)
    return None


class OAuthTokenAuthentication(BaseAuthentication):
    """An access token from our `/oauth/token` (django-oauth-toolkit), found by its checksum."""

    def authenticate(self, request: Request) -> tuple[ApiPrincipal, object] | None:
        token = presented_token(request)
        if token is None or token.startswith(API_KEY_PREFIX):
            return None
        checksum = hashlib.sha256(token.encode()).hexdigest()
        access = (
            get_access_token_model()
            .objects.select_related("application", "application__pepbridge_scope")
            .filter(token_checksum=checksum)
            .first()
        )
        if access is None or access.application is None or access.is_expired():
            raise AuthenticationFailed("The access token is invalid or has expired.")
        if access.application.authorization_grant_type == DISABLED_GRANT:
            # Disabling revokes the client's tokens; this closes the race with a token issued
            # while the disable was committing.
            raise AuthenticationFailed("The access token is invalid or has expired.")
        app = access.application
        scopes = frozenset(access.scope.split())
        principal = ApiPrincipal("oauth", app.client_id, app.name, scopes, _sender(app))
        return principal, access

    def authenticate_header(self, request: Request) -> str:
        return f'Bearer realm="{REALM}"'


def _sender(application: object) -> str:
    """The client's sender; a client made without a ClientScope row keeps the default."""
    try:
        return application.pepbridge_scope.sender  # type: ignore[attr-defined]
    except ClientScope.DoesNotExist:
        return DEFAULT_SENDER


def parse_api_key(value: str) -> tuple[str, str] | None:
    """Split `pbk_<key_id>_<secret>`; None if it does not have that form."""
    prefix, _, rest = value.partition("_")
    key_id, _, secret = rest.partition("_")
    if f"{prefix}_" != API_KEY_PREFIX or not key_id or not secret:
        return None
    return key_id, secret


class ApiKeyAuthentication(BaseAuthentication):
    """An API key in `x-api-key`, or in `x-authorization` (recognised by its `pbk_` prefix)."""

    def authenticate(self, request: Request) -> tuple[ApiPrincipal, ApiKey] | None:
        value = _header(request, "HTTP_X_API_KEY")
        if value is None:
            token = presented_token(request)
            if token is None or not token.startswith(API_KEY_PREFIX):
                return None
            value = token
        api_key = self._verified(value)
        scopes = frozenset(api_key.scope.split())
        principal = ApiPrincipal("apikey", api_key.key_id, api_key.name, scopes, api_key.sender)
        return principal, api_key

    @staticmethod
    def _verified(value: str) -> ApiKey:
        parsed = parse_api_key(value)
        api_key = ApiKey.objects.filter(key_id=parsed[0]).first() if parsed else None
        if parsed is None or api_key is None or not api_key.check_secret(parsed[1]):
            raise AuthenticationFailed("The API key is invalid.")
        if not api_key.is_active:
            raise AuthenticationFailed("The API key has been revoked.")
        return api_key

    def authenticate_header(self, request: Request) -> str:
        return f'ApiKey realm="{REALM}", header="x-api-key"'
