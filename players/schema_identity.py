"""The OpenAPI documentation of `POST /api/auth/v1/player`, kept out of players/identity_views.py.

Applied to the view when the app is ready (PlayersConfig), as each app does in its schema module
(bonuses/schema.py); the token endpoint, not a DRF view, is described by schema_token.py.
"""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_serializer,
    extend_schema_view,
)

from pepbridge.api.schema import (
    OPERATOR_API_TAGS,
    PEP_AUTH_ERRORS,
    error_examples,
    error_responses,
)
from players.identity_views import PlayerIdentityView

extend_schema_serializer(component_name="PlayerIdentityRequest")(PlayerIdentityView.InputSerializer)
extend_schema_serializer(component_name="PlayerIdentity")(PlayerIdentityView.OutputSerializer)

_ERRORS = {
    400: "No identityToken, or malformed JSON",
    **PEP_AUTH_ERRORS,
    401: "Missing credentials, or an invalid/expired/unknown token",
    429: "Too many requests from this client",
}

extend_schema_view(
    post=extend_schema(
        operation_id="player_identity",
        tags=OPERATOR_API_TAGS,
        request=PlayerIdentityView.InputSerializer,
        responses={200: PlayerIdentityView.OutputSerializer, **error_responses(_ERRORS)},
        examples=[
            OpenApiExample(
                "Identity token",
                request_only=True,
                value={"identityToken": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwLTEwMDQyIn0.c2ln"},
            ),
            OpenApiExample(
                "Player",
                response_only=True,
                status_codes=["200"],
                value={"playerId": "p-10042", "expiresAt": "2026-05-01T12:30:00.000Z"},
            ),
            *error_examples(400, 401, 403, 429),
        ],
    )
)(PlayerIdentityView)
