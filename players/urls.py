"""URL routes of this app (included from pepbridge/urls.py): ingestion of players and events, and
PEP's identity check (`/api/auth/v1/player` is PEP's path)."""

from django.urls import URLPattern, URLResolver, path

from players.event_views import EventBatchView, EventView
from players.identity_views import PlayerIdentityView
from players.views import PlayerCreateView, PlayerDetailView

urlpatterns: list[URLPattern | URLResolver] = [
    path("ingest/v1/players", PlayerCreateView.as_view(), name="ingest-player-create"),
    path(
        "ingest/v1/players/<str:player_id>",
        PlayerDetailView.as_view(),
        name="ingest-player-detail",
    ),
    path("ingest/v1/events", EventView.as_view(), name="ingest-event"),
    path("ingest/v1/events/batch", EventBatchView.as_view(), name="ingest-event-batch"),
    path("api/auth/v1/player", PlayerIdentityView.as_view(), name="player-identity"),
]
