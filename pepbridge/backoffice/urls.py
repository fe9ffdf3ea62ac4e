"""Back-office pages, mounted under /admin/backoffice/ and guarded by the admin's staff login."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from pepbridge.backoffice import views

urlpatterns = [
    path("dashboard/", admin.site.admin_view(views.dashboard), name="backoffice-dashboard"),
    path("time-zone/", admin.site.admin_view(views.time_zone), name="backoffice-time-zone"),
]
