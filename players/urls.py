"""URL routes of this app (included from pepbridge/urls.py): the ingestion API for players."""

from django.urls import URLPattern, URLResolver, path

from players.views import PlayerCreateView, PlayerDetailView

urlpatterns: list[URLPattern | URLResolver] = [
    path("ingest/v1/players", PlayerCreateView.as_view(), name="ingest-player-create"),
    path(
        "ingest/v1/players/<str:player_id>",
        PlayerDetailView.as_view(),
        name="ingest-player-detail",
    ),
]
