"""The operations dashboard page, served inside the admin under /admin/backoffice/dashboard/."""

from __future__ import annotations

from datetime import datetime

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse

from pepbridge.dashboard import charts, selectors


def dashboard(request: HttpRequest) -> HttpResponse:
    """Delivery and assign-bonus activity of the last 24 hours, for any staff member."""
    data = selectors.dashboard()
    context = {
        **admin.site.each_context(request),
        "title": "Operations dashboard",
        "figures": data.figures,
        # Shown in the staff member's zone with seconds, like every other time in the admin.
        "generated_at": datetime.fromisoformat(data.figures["generated_at"]),
        "delivery_chart": charts.stacked_chart(data.deliveries, selectors.OUTCOMES),
        "assign_chart": charts.stacked_chart(data.assignments, ("accepted", "rejected")),
        "webhook_chart": charts.stacked_chart(data.webhooks, ("received",)),
        "fulfilment_url": reverse("admin:webhooks_fulfilment_changelist"),
        "outbox_url": reverse("admin:events_outboxmessage_changelist"),
    }
    return TemplateResponse(request, "admin/backoffice/dashboard.html", context)
