"""`POST /api/auth/v1/player`, PEP's identity check (operator-api §5): parse, identify, answer."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pepbridge.api.exceptions import ApiError
from pepbridge.api.fields import StrictCharField
from pepbridge.api.permissions import RequiresPepScope
from pepbridge.pep.wire import format_timestamp
from players.identity import player_identify

# One answer for a bad signature, an expired token and an unknown player: say nothing more.
IDENTITY_REFUSED = "The identity token is not valid."
# PEP's own credential was fine: the challenge names the identity token, not Bearer.
IDENTITY_CHALLENGE = 'IdentityToken realm="pepbridge"'


class PlayerIdentityView(APIView):
    """`POST /api/auth/v1/player`: the player an identity token names, and until when."""

    permission_classes = [RequiresPepScope]

    class InputSerializer(serializers.Serializer):
        identityToken = StrictCharField(max_length=8192, trim_whitespace=True)

    class OutputSerializer(serializers.Serializer):
        playerId = serializers.CharField()
        expiresAt = serializers.CharField(required=False)

    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        identity = player_identify(identity_token=data.validated_data["identityToken"])
        if identity is None:
            raise ApiError(401, IDENTITY_REFUSED, headers={"WWW-Authenticate": IDENTITY_CHALLENGE})
        body = {"playerId": identity.player_id}
        if identity.expires_at is not None:
            body["expiresAt"] = format_timestamp(identity.expires_at)
        return Response(self.OutputSerializer(body).data)
