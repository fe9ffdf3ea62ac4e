"""A test URLconf: this app's routes, the identity check, and views for scopes and errors."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.urls import include, path
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pepbridge.api.authentication import client_key, client_label
from pepbridge.api.exceptions import ApiError
from pepbridge.api.permissions import RequiresIngestScope, RequiresPepScope
from players.identity_views import PlayerIdentityView


class PepEchoView(APIView):
    permission_classes = [RequiresPepScope]

    def get(self, request: Request) -> Response:
        return Response({"key": client_key(request), "label": client_label(request)})

    def post(self, request: Request) -> Response:
        return Response({"received": request.data})


class IngestEchoView(APIView):
    permission_classes = [RequiresIngestScope]

    def post(self, request: Request) -> Response:
        return Response({"key": client_key(request)})


class UndeclaredScopeView(APIView):
    """Uses the default permission (ScopePermission) without declaring a scope."""

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class AddressSerializer(serializers.Serializer):
    city = serializers.CharField()


class NestedSerializer(serializers.Serializer):
    name = serializers.CharField()
    address = AddressSerializer()


class ErrorView(APIView):
    """GET /errors/<kind>: raise one kind of failure; POST: validate a nested body."""

    permission_classes = [RequiresPepScope]

    def get(self, request: Request, kind: str) -> Response:
        if kind == "404":
            raise NotFound()
        if kind == "409":
            raise ApiError(409, "requestId r-1 was used with another body.")
        if kind == "500":
            raise RuntimeError("secret internals: /etc/passwd")
        return Response({"kind": kind})

    def post(self, request: Request, kind: str) -> Response:
        data = NestedSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(data.validated_data)


def _routes() -> list[Any]:
    return [
        path("test/pep", PepEchoView.as_view()),
        path("test/ingest", IngestEchoView.as_view()),
        path("test/undeclared", UndeclaredScopeView.as_view()),
        path("test/errors/<str:kind>", ErrorView.as_view()),
    ]


urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("pepbridge.api.urls")),
    # PEP's identity check lives with the players it looks up (players/urls.py).
    path("api/auth/v1/player", PlayerIdentityView.as_view(), name="player-identity"),
    *_routes(),
]
