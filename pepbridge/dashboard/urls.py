"""Back-office pages, mounted under /admin/backoffice/ and guarded by the admin's staff login.

Here, with the dashboard, because the page list is composition: the time zone picker is a
building block of pepbridge/backoffice, the dashboard reads every app.
"""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from pepbridge.backoffice.views import time_zone
from pepbridge.dashboard.views import dashboard

urlpatterns = [
    path("dashboard/", admin.site.admin_view(dashboard), name="backoffice-dashboard"),
    path("time-zone/", admin.site.admin_view(time_zone), name="backoffice-time-zone"),
]
