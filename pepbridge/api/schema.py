"""OpenAPI: the security schemes of our authentication classes and the one error shape.

Imported from ApiConfig.ready() so drf-spectacular finds the extensions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers

from pepbridge.api.models import Scope


class ErrorSerializer(serializers.Serializer):
    """Every 4xx and 5xx of the inbound APIs (pepbridge.api.exception_handler)."""

    statusCode = serializers.IntegerField()
    error = serializers.CharField(help_text="The HTTP reason phrase, e.g. 'Bad Request'.")
    message = serializers.CharField(help_text="One human sentence.")
    # The wire name is the contract's; it shadows Serializer.errors only for the schema.
    errors = serializers.JSONField(  # type: ignore[assignment]
        required=False,
        help_text="Field errors, DRF style ({field: [messages]}, nested for nested input); "
        "only for validation failures.",
    )


# The tag of every endpoint PEP calls (the ingestion API has its own, players.ingest_api).
OPERATOR_API_TAGS = ["Operator API (PEP → pepbridge)"]
# What every Operator API endpoint may answer before it looks at the request.
PEP_AUTH_ERRORS = {
    401: "Missing or wrong credentials",
    403: "The credential lacks the pep scope",
}


def error_response(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=ErrorSerializer, description=description)


def error_responses(descriptions: Mapping[int, str]) -> dict[int, OpenApiResponse]:
    """The error shape as the answer for each status, described as given."""
    return {code: error_response(text) for code, text in descriptions.items()}


_EXAMPLES: dict[int, tuple[str, dict[str, Any]]] = {
    400: (
        "Invalid fields",
        {
            "statusCode": 400,
            "error": "Bad Request",
            "message": "Some fields are invalid.",
            "errors": {"identityToken": ["This field is required."]},
        },
    ),
    401: (
        "No valid credential",
        {
            "statusCode": 401,
            "error": "Unauthorized",
            "message": "Authentication credentials were not provided.",
        },
    ),
    403: (
        "Wrong scope",
        {
            "statusCode": 403,
            "error": "Forbidden",
            "message": "The credential does not have the scope this endpoint needs.",
        },
    ),
    404: ("Not found", {"statusCode": 404, "error": "Not Found", "message": "Not found."}),
    409: (
        "Conflict",
        {"statusCode": 409, "error": "Conflict", "message": "The id was used with other data."},
    ),
    410: (
        "Erased",
        {"statusCode": 410, "error": "Gone", "message": "Player p-10042 was erased."},
    ),
    413: (
        "Body too large",
        {
            "statusCode": 413,
            "error": "Request Entity Too Large",
            "message": "The body is 9,000,000 bytes; the limit is 5,242,880 bytes.",
        },
    ),
    429: (
        "Throttled",
        {
            "statusCode": 429,
            "error": "Too Many Requests",
            "message": "Request was throttled. Expected available in 12 seconds.",
        },
    ),
    500: (
        "Server error",
        {"statusCode": 500, "error": "Internal Server Error", "message": "Internal server error."},
    ),
}


def error_examples(*statuses: int) -> list[OpenApiExample]:
    """OpenApiExamples of the error shape for the given statuses (400, 401, 403, 404, ...)."""
    return [
        OpenApiExample(
            _EXAMPLES[code][0],
            value=_EXAMPLES[code][1],
            response_only=True,
            status_codes=[str(code)],
        )
        for code in statuses
    ]


def _view_scopes(auto_schema: Any) -> list[str]:
    scopes: list[str] = []
    for permission in getattr(auto_schema.view, "permission_classes", []):
        scopes.extend(getattr(permission, "required_scopes", ()))
    return scopes


class OAuthTokenAuthenticationScheme(OpenApiAuthenticationExtension):
    """A token from /oauth/token, in `x-authorization` (PEP) or `Authorization: Bearer`."""

    target_class = "pepbridge.api.authentication.OAuthTokenAuthentication"
    name = ["xAuthorization", "oauth2"]

    def get_security_requirement(self, auto_schema: Any) -> list[dict[str, list[str]]]:
        return [{"xAuthorization": []}, {"oauth2": _view_scopes(auto_schema)}]

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, Any]]:
        return [
            {
                "type": "apiKey",
                "in": "header",
                "name": "x-authorization",
                "description": "An access token from /oauth/token, with or without 'Bearer ', "
                "or an API key (pbk_...). This is the header PEP uses.",
            },
            {
                "type": "oauth2",
                "description": "Client credentials; the token also works as "
                "'Authorization: Bearer <token>'.",
                "flows": {
                    "clientCredentials": {
                        "tokenUrl": "/oauth/token",
                        "scopes": {str(v): str(label) for v, label in Scope.choices},
                    }
                },
            },
        ]


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """An API key in `x-api-key` (or in `x-authorization`)."""

    target_class = "pepbridge.api.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "x-api-key",
            "description": "An API key (pbk_<id>_<secret>) from `manage.py create_pep_api_key`.",
        }
