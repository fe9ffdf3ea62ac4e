"""OpenAPI description of POST /oauth/token, which drf-spectacular cannot see by itself.

The token endpoint is django-oauth-toolkit's view (pepbridge.api.views.TokenView), not a DRF one.
`add_token_endpoint`, a postprocessing hook named in SPECTACULAR_SETTINGS, adds the path with its
three request styles (form, HTTP Basic, JSON), its answer and its RFC 6749 errors, each with an
example. It only describes: what the endpoint does is the view's business.
"""

from __future__ import annotations

from typing import Any

from django.urls import Resolver404, resolve

from pepbridge.api.models import Scope

TOKEN_PATH = "/oauth/token"  # noqa: S105 (a path, not a secret)
_OAUTH_ERROR_CODES = [
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
]
_SCOPE = {"type": "string", "enum": [str(value) for value in Scope.values]}

TOKEN_SCHEMAS: dict[str, dict[str, Any]] = {
    "OAuthTokenForm": {
        "type": "object",
        "description": "RFC 6749 client credentials. Send client_id/client_secret here or as "
        "HTTP Basic (clientBasic), not both.",
        "properties": {
            "grant_type": {"type": "string", "enum": ["client_credentials"]},
            "client_id": {"type": "string"},
            "client_secret": {"type": "string", "format": "password"},
            "scope": {**_SCOPE, "description": "Optional: the client's own scope by default."},
        },
        "required": ["grant_type"],
    },
    "OAuthTokenJson": {
        "type": "object",
        "description": "The same as JSON. grant_type defaults to client_credentials; PEP's "
        "camelCase names (clientId, clientSecret, grantType) are accepted too; other properties "
        "(e.g. Auth0's audience) are ignored.",
        "properties": {
            "grant_type": {"type": "string", "enum": ["client_credentials"]},
            "client_id": {"type": "string"},
            "client_secret": {"type": "string", "format": "password"},
            "clientId": {"type": "string"},
            "clientSecret": {"type": "string", "format": "password"},
            "scope": _SCOPE,
        },
        "additionalProperties": True,
    },
    "OAuthToken": {
        "type": "object",
        "properties": {
            "access_token": {"type": "string"},
            "expires_in": {"type": "integer", "description": "Seconds (default 3600)."},
            "token_type": {"type": "string", "enum": ["Bearer"]},
            "scope": _SCOPE,
        },
        "required": ["access_token", "expires_in", "token_type", "scope"],
    },
    "OAuthTokenError": {
        "type": "object",
        "description": "RFC 6749 §5.2 (error, error_description) plus the project's statusCode "
        "and message. `error` is the OAuth code here, not the reason phrase.",
        "properties": {
            "statusCode": {"type": "integer"},
            "error": {"type": "string", "enum": _OAUTH_ERROR_CODES},
            "error_description": {"type": "string"},
            "message": {"type": "string", "description": "One human sentence."},
        },
        "required": ["statusCode", "error", "message"],
    },
}

_CREDENTIALS = {"client_id": "3f9a1c0e8b7d4e2a", "client_secret": "<secret shown once>"}


def _example(summary: str, value: Any, description: str = "") -> dict[str, Any]:
    example: dict[str, Any] = {"summary": summary, "value": value}
    if description:
        example["description"] = description
    return example


def _json(ref: str, examples: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": ref}, "examples": examples}}


def _token_error(status: int, code: str, message: str, description: str = "") -> dict[str, Any]:
    body = {"statusCode": status, "message": message, "error": code}
    if description:
        body["error_description"] = description
    return body


def _token_request_body() -> dict[str, Any]:
    form = {"grant_type": "client_credentials", **_CREDENTIALS}
    return {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {"$ref": "#/components/schemas/OAuthTokenForm"},
                "examples": {
                    "Form": _example("Credentials in the form", form),
                    "Basic": _example(
                        "Credentials as HTTP Basic",
                        {"grant_type": "client_credentials"},
                        "With 'Authorization: Basic base64(client_id:client_secret)'.",
                    ),
                },
            },
            "application/json": {
                "schema": {"$ref": "#/components/schemas/OAuthTokenJson"},
                "examples": {
                    "Json": _example("JSON, RFC 6749 names", form),
                    "JsonCamelCase": _example(
                        "JSON, PEP's names",
                        {"clientId": _CREDENTIALS["client_id"], "clientSecret": "<secret>"},
                    ),
                },
            },
        },
    }


def _token_responses() -> dict[str, Any]:
    issued_ref = "#/components/schemas/OAuthToken"
    failure = "#/components/schemas/OAuthTokenError"
    issued = {
        "access_token": "Qm9udXNCcmlkZ2VUb2tlbg",
        "expires_in": 3600,
        "token_type": "Bearer",
        "scope": "pep",
    }
    return {
        "200": {
            "description": "A token; send it as 'x-authorization: Bearer <token>'.",
            "content": _json(issued_ref, {"Token": _example("Token", issued)}),
        },
        "400": {
            "description": "A malformed request, a grant other than client_credentials, or a "
            "scope the client does not have.",
            "content": _json(
                failure,
                {
                    "UnsupportedGrant": _example(
                        "Unsupported grant type",
                        _token_error(400, "unsupported_grant_type", "Unsupported grant type"),
                    ),
                    "InvalidScope": _example(
                        "Scope not allowed", _token_error(400, "invalid_scope", "Invalid scope")
                    ),
                },
            ),
        },
        "401": {
            "description": "Unknown client or wrong secret.",
            "headers": {
                "WWW-Authenticate": {
                    "schema": {"type": "string"},
                    "description": 'e.g. Bearer error="invalid_client"',
                }
            },
            "content": _json(
                failure,
                {
                    "InvalidClient": _example(
                        "Wrong credentials", _token_error(401, "invalid_client", "Invalid client")
                    )
                },
            ),
        },
    }


def _method_not_allowed() -> dict[str, Any]:
    return {
        "405": {
            "description": "Any method but POST (the project's error shape).",
            "content": _json(
                "#/components/schemas/Error",
                {
                    "MethodNotAllowed": _example(
                        "GET",
                        {
                            "statusCode": 405,
                            "error": "Method Not Allowed",
                            "message": 'Method "GET" not allowed.',
                        },
                    )
                },
            ),
        },
    }


def _token_operation() -> dict[str, Any]:
    return {
        "operationId": "oauth_token",
        "summary": "Get an access token (OAuth 2.0 client credentials)",
        "description": "Client credentials as a form (RFC 6749), as HTTP Basic, or as a JSON "
        "body; also served at /oauth/token/. The token lasts OAUTH_ACCESS_TOKEN_LIFETIME seconds "
        "and carries the client's one scope. Errors keep RFC 6749's fields.",
        "tags": ["OAuth 2.0"],
        # Basic client authentication, or none (the credentials are in the body).
        "security": [{"clientBasic": []}, {}],
        "requestBody": _token_request_body(),
        "responses": _token_responses(),
    }


def _serves_token_endpoint(urlconf: Any) -> bool:
    try:
        resolve(TOKEN_PATH, urlconf=urlconf)
    except Resolver404:
        return False
    return True


def add_token_endpoint(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: describe POST /oauth/token where it is routed."""
    if not _serves_token_endpoint(getattr(generator, "urlconf", None)):
        return result
    components = result.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    operation = _token_operation()
    if "Error" in schemas:  # the project's error shape, when this schema has it
        operation["responses"].update(_method_not_allowed())
    result["paths"] = {TOKEN_PATH: {"post": operation}, **result.get("paths", {})}
    schemas.update(TOKEN_SCHEMAS)
    components.setdefault("securitySchemes", {})["clientBasic"] = {
        "type": "http",
        "scheme": "basic",
        "description": "client_id and client_secret as HTTP Basic (token endpoint only).",
    }
    return result
