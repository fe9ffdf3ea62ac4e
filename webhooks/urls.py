"""URL of PEP's event webhooks: registered in PEP's admin (docs/webhooks.md)."""

from django.urls import path

from webhooks.views import PepEventsView

urlpatterns = [
    path("api/webhooks/v1/pep-events", PepEventsView.as_view(), name="webhooks-pep-events"),
]
