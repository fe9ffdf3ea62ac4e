"""The players half of the ingestion API: the operator's platform creates, updates, reads and
erases players. One APIView per operation; each calls one service and shapes the answer. The
OpenAPI documentation is in players/schema.py."""

from __future__ import annotations

from typing import Any

from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from events.messages import MessageRejected
from pepbridge.api.exceptions import ApiError
from players import selectors, services
from players.ingest_api import IngestView, api_error
from players.serializers import PlayerOutputSerializer, PlayerSerializer


def _output(player: Any) -> dict[str, Any]:
    return PlayerOutputSerializer(player).data


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
    def post(self, request: Request) -> Response:
        serializer = PlayerSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        change = _call(
            services.player_create, data=serializer.validated_data, cause=_way_in(request)
        )
        code = status.HTTP_201_CREATED if change.created else status.HTTP_200_OK
        return Response(_output(selectors.player_get(change.player.player_id)), status=code)


class PlayerDetailView(IngestView):
    def get(self, request: Request, player_id: str) -> Response:
        player = selectors.player_get(player_id)
        if player is None:
            raise api_error(services.PlayerNotFound(f"No player with playerId {player_id!r}."))
        return Response(_output(player))

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

    def delete(self, request: Request, player_id: str) -> Response:
        change = _call(services.player_erase, player_id=player_id)
        return Response(_output(change.player), status=status.HTTP_202_ACCEPTED)
