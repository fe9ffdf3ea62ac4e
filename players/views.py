"""The players half of the ingestion API: the operator's platform creates, updates, reads and
erases players. One APIView per operation; each calls one service and shapes the answer."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from events.messages import MessageRejected
from pepbridge.api.exceptions import ApiError
from pepbridge.api.schema import error_examples
from players import profile, selectors, services
from players.ingest_api import IngestView, api_error, ingest_errors, ingest_schema_tags
from players.serializers import PlayerOutputSerializer, PlayerSerializer

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


def _output(player: Any) -> dict[str, Any]:
    return PlayerOutputSerializer(player).data


def _response_example(name: str, value: dict[str, Any], code: int) -> OpenApiExample:
    return OpenApiExample(name, value=value, response_only=True, status_codes=[str(code)])


def _way_in(request: Request) -> str:
    """The calling credential, for the audit trail of what its data repaired."""
    # Our authentication classes set the credential (it has a key) as request.user.
    credential: Any = request.user
    return f"api:{credential.key}"


def _call(func: Any, **kwargs: Any) -> services.PlayerChange:
    """Run a service, turning its refusals into the API's error answers."""
    try:
        return func(**kwargs)
    except services.PlayerError as exc:
        raise api_error(exc) from None
    except MessageRejected as exc:
        # A value the serializer let through but PEP's format cannot carry: the caller's input,
        # so a 400 naming the field (the service's transaction has rolled back).
        raise ApiError(400, "The player has invalid fields.", exc.field_errors) from None


class PlayerCreateView(IngestView):
    @extend_schema(
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
    def post(self, request: Request) -> Response:
        serializer = PlayerSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        change = _call(
            services.player_create, data=serializer.validated_data, cause=_way_in(request)
        )
        code = status.HTTP_201_CREATED if change.created else status.HTTP_200_OK
        return Response(_output(selectors.player_get(change.player.player_id)), status=code)


class PlayerDetailView(IngestView):
    @extend_schema(
        operation_id="ingest_player_get",
        summary="Read a player as the bridge holds it",
        responses={200: PlayerOutputSerializer, **ingest_errors(*_READ_ERRORS)},
        examples=[
            _response_example("A player", _PLAYER_OUTPUT_EXAMPLE, 200),
            *error_examples(*_READ_ERRORS),
        ],
        tags=ingest_schema_tags,
    )
    def get(self, request: Request, player_id: str) -> Response:
        player = selectors.player_get(player_id)
        if player is None:
            raise api_error(services.PlayerNotFound(f"No player with playerId {player_id!r}."))
        return Response(_output(player))

    @extend_schema(
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
    )
    def patch(self, request: Request, player_id: str) -> Response:
        serializer = PlayerSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if data.pop("player_id", player_id) != player_id:
            raise ApiError(400, "playerId cannot change.", errors={"playerId": ["Cannot change."]})
        change = _call(
            services.player_update, player_id=player_id, data=data, cause=_way_in(request)
        )
        body = _output(selectors.player_get(player_id))
        body["changed"] = sorted(change.changed)
        return Response(body)

    @extend_schema(
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
    )
    def delete(self, request: Request, player_id: str) -> Response:
        change = _call(services.player_erase, player_id=player_id)
        return Response(_output(change.player), status=status.HTTP_202_ACCEPTED)
