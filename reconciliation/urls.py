"""URL routes of this app (included from pepbridge/urls.py). The export lives in the admin."""

from django.urls import URLPattern, URLResolver, path

from reconciliation.views import MigrationFeedbackView, ReconciliationView

urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "api/reconciliation/v1/players",
        ReconciliationView.as_view(),
        name="reconciliation-players",
    ),
    path(
        "api/players/v1/migration/feedback",
        MigrationFeedbackView.as_view(),
        name="players-migration-feedback",
    ),
]
