"""django-oauth-toolkit plug-ins: per-client scopes and token requests in JSON as well as forms."""

from __future__ import annotations

from typing import Any

from oauth2_provider.oauth2_backends import OAuthLibCore
from oauth2_provider.scopes import BaseScopes

from pepbridge.api.models import ClientScope, Scope
from pepbridge.api.parsers import parse_json

# PEP's own Platform API takes {"clientId", "clientSecret"}; accept that spelling too.
_JSON_ALIASES = {
    "clientId": "client_id",
    "clientSecret": "client_secret",
    "grantType": "grant_type",
}


class ClientScopes(BaseScopes):
    """Each client may ask for its own scope only (the toolkit's default grants every scope).

    A token request without `scope` gets the client's scope; a client without a ClientScope row
    gets no scope at all, so every endpoint answers it 403.
    """

    def get_all_scopes(self) -> dict[str, str]:
        return {str(value): str(label) for value, label in Scope.choices}

    def get_available_scopes(self, application: Any = None, *args: Any, **kwargs: Any) -> list:
        if application is None:
            return []
        # oauthlib asks for available and default scopes: one query per token request, not two.
        cached = getattr(application, "_pepbridge_scopes", None)
        if cached is None:
            rows = ClientScope.objects.filter(application=application)
            cached = list(rows.values_list("scope", flat=True))
            application._pepbridge_scopes = cached
        return list(cached)

    def get_default_scopes(self, application: Any = None, *args: Any, **kwargs: Any) -> list:
        return self.get_available_scopes(application)


class FormOrJsonOAuthLibCore(OAuthLibCore):
    """Read the token request from a form (RFC 6749) or, when sent as JSON, from a JSON object.

    PEP's documentation does not say which it sends (operator-api.md §2); Auth0-style clients
    send JSON. A JSON body without `grant_type` is a client-credentials request: that is the
    only grant our clients have.
    """

    def extract_body(self, request: Any) -> Any:
        content_type = request.META.get("CONTENT_TYPE", "")
        if not content_type.startswith("application/json"):
            params = super().extract_body(request)
            # PostgreSQL refuses NUL in a lookup: without this, `client_id=a%00` was a 500.
            return [] if any("\x00" in f"{k}{v}" for k, v in params) else params
        try:
            # The API's one JSON reader: deep nesting, NUL, NaN... are refused, not a 500.
            data = parse_json(request.body or b"{}")
        except ValueError:  # BadJSON: oauthlib then answers 400 invalid_request
            return []
        if not isinstance(data, dict):
            return []
        params = {_JSON_ALIASES.get(key, key): value for key, value in data.items()}
        params.setdefault("grant_type", "client_credentials")
        return [(key, str(value)) for key, value in params.items() if value is not None]
