"""URL routes of this app (included from pepbridge/urls.py)."""

from django.urls import URLPattern, URLResolver, path

from events.ingestion_views import EventBatchView, EventView

urlpatterns: list[URLPattern | URLResolver] = [
    # The ingestion API for the operator's platform (events/ingestion_views.py).
    path("ingest/v1/events", EventView.as_view(), name="ingest-event"),
    path("ingest/v1/events/batch", EventBatchView.as_view(), name="ingest-event-batch"),
]
