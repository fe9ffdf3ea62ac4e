"""The OpenAPI documentation of the ingestion API's players half, and the errors both halves share.

Applied to the views when the app is ready (PlayersConfig); see bonuses/schema.py. The events
half (players/event_schema.py) uses the tag and the error answers defined here.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)

from pepbridge.api.schema import error_examples, error_responses
from players import profile, services
from players.serializers import PlayerOutputSerializer, PlayerSerializer
from players.views import PlayerCreateView, PlayerDetailView

ingest_schema_tags = ["Ingestion API (operator platform → pepbridge)"]

_INGEST_ERRORS = error_responses(
    {
        400: "Invalid fields (each named in `errors`) or malformed JSON",
        401: "No valid credential",
        403: "The credential lacks the `ingest` scope",
        404: "Unknown player",
        409: "Same id, other content (nothing written)",
        410: "The player was erased",
        413: "Body over the size limit",
        429: "Too many requests (see Retry-After)",
    }
)


def ingest_errors(*statuses: int) -> dict[int, OpenApiResponse]:
    """The documented error answers (the one error shape) for the given statuses."""
    return {code: _INGEST_ERRORS[code] for code in statuses}


# The errors of an ingestion request with a body; each operation lists its own from these.
INGEST_ERRORS = ingest_errors(400, 401, 403, 404, 409, 413, 429)


_PLAYER_EXAMPLE = {
    "playerId": "p-10042",
    "username": "lucky_anna",
    "firstName": "Anna",
    "lastName": "Muster",
    "email": "anna@example.com",
    "phone": "+41791234567",
    "gender": "female",
    "birthDate": "1990-04-01",
    "country": "CH",
    "city": "Zürich",
    "language": "de-CH",
    "currency": "CHF",
    "brandId": "main",
    "registrationDate": "2024-03-01T10:15:00Z",
    "registrationDevice": "mobile",
    "kycStatus": "verified",
    "emailVerified": True,
    "tags": ["vip"],
    "marketingConsents": [
        {"channel": "email", "granted": True, "changedAt": "2024-03-01T10:15:00Z"},
        {"channel": "sms", "granted": False, "changedAt": "2024-03-01T10:15:00Z"},
    ],
}

_PLAYER_OUTPUT_EXAMPLE = {
    **_PLAYER_EXAMPLE,
    "erasedAt": None,
    "updatedAt": "2024-05-02T08:00:00Z",
}
_ERASED_EXAMPLE = {
    **_PLAYER_OUTPUT_EXAMPLE,
    **{services.camel(name): blank for name, blank in profile.PERSONAL_FIELDS.items()},
    "accountStatus": "closed",
    "marketingConsents": [
        {"channel": "email", "granted": False, "changedAt": "2024-05-03T09:00:00Z"},
        {"channel": "sms", "granted": False, "changedAt": "2024-05-03T09:00:00Z"},
    ],
    "erasedAt": "2024-05-03T09:00:00Z",
    "updatedAt": "2024-05-03T09:00:00Z",
}
# Error answers per operation (players.ingest_api); each is documented with an example.
_CREATE_ERRORS = (400, 401, 403, 409, 410, 413, 429)
_READ_ERRORS = (401, 403, 404, 429)
_UPDATE_ERRORS = (400, 401, 403, 404, 410, 413, 429)


def _response_example(name: str, value: dict[str, Any], code: int) -> OpenApiExample:
    return OpenApiExample(name, value=value, response_only=True, status_codes=[str(code)])


extend_schema_view(
    post=extend_schema(
        operation_id="ingest_player_create",
        summary="Register a player",
        description=(
            "Creates the player and queues PEP's registration event and profile. Idempotent on "
            "playerId: the same body again answers 200 and queues nothing; other values for an "
            "existing player answer 409 (send changes with PATCH)."
        ),
        request=PlayerSerializer,
        responses={
            201: PlayerOutputSerializer,
            200: OpenApiResponse(PlayerOutputSerializer, description="Already registered"),
            **ingest_errors(*_CREATE_ERRORS),
        },
        examples=[
            OpenApiExample("A new player", value=_PLAYER_EXAMPLE, request_only=True),
            _response_example("Registered", _PLAYER_OUTPUT_EXAMPLE, 201),
            *error_examples(*_CREATE_ERRORS),
        ],
        tags=ingest_schema_tags,
    )
)(PlayerCreateView)

extend_schema_view(
    get=extend_schema(
        operation_id="ingest_player_get",
        summary="Read a player as the bridge holds it",
        responses={200: PlayerOutputSerializer, **ingest_errors(*_READ_ERRORS)},
        examples=[
            _response_example("A player", _PLAYER_OUTPUT_EXAMPLE, 200),
            *error_examples(*_READ_ERRORS),
        ],
        tags=ingest_schema_tags,
    ),
    patch=extend_schema(
        operation_id="ingest_player_update",
        summary="Change some of a player's fields",
        description=(
            "Send only what changed. PEP receives a profile update with only the fields whose "
            "value really changed, plus verification, consent and tag events where those changed."
            " The answer lists the changed fields (empty: nothing changed, nothing queued)."
        ),
        request=PlayerSerializer(partial=True),
        responses={200: PlayerOutputSerializer, **ingest_errors(*_UPDATE_ERRORS)},
        examples=[
            OpenApiExample(
                "New e-mail and SMS consent",
                value={
                    "email": "anna.m@example.com",
                    "marketingConsents": [
                        {"channel": "sms", "granted": True, "changedAt": "2024-05-02T08:00:00Z"}
                    ],
                },
                request_only=True,
            ),
            _response_example(
                "E-mail changed",
                {**_PLAYER_OUTPUT_EXAMPLE, "email": "anna.m@example.com", "changed": ["email"]},
                200,
            ),
            *error_examples(*_UPDATE_ERRORS),
        ],
        tags=ingest_schema_tags,
    ),
    delete=extend_schema(
        operation_id="ingest_player_erase",
        summary="Erase a player (right to erasure)",
        description=(
            "Blanks the player's personal data in the bridge, withdraws their consents and "
            "queues PEP's player delete. Non-personal records regulation needs are kept. "
            "Erasing an erased player again answers 202 and queues nothing."
        ),
        request=None,
        responses={202: PlayerOutputSerializer, **ingest_errors(*_READ_ERRORS)},
        examples=[
            _response_example("Erased", _ERASED_EXAMPLE, 202),
            *error_examples(*_READ_ERRORS),
        ],
        tags=ingest_schema_tags,
    ),
)(PlayerDetailView)
