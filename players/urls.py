"""URL routes of this app (included from pepbridge/urls.py): ingestion of players and events."""

from django.urls import URLPattern, URLResolver, path

from players.event_views import EventBatchView, EventView
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
]
