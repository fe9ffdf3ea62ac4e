"""Root URLs. Each app contributes its own `urls.py`; PEP's paths are fixed by the contract."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from pepbridge import health

# The paths called thousands of times a second go first: Django tries the patterns in order
# (a webhook request went through 26 patterns to its own, ~40 us of its CPU).
urlpatterns = [
    path("", include("webhooks.urls")),
    path("", include("players.urls")),
    path("", include("bonuses.urls")),
    path("", include("reconciliation.urls")),
    path("", include("pepbridge.api.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("metrics", health.metrics_view, name="metrics"),
    path("admin/backoffice/", include("pepbridge.dashboard.urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
]

# JSON errors (pepbridge.api's shape) under /api/, /ingest/ and /oauth/; HTML elsewhere.
handler404 = "pepbridge.api.views.not_found"
handler500 = "pepbridge.api.views.server_error"
# Staff see the admin's navigation and the missing permission (docs/back-office.md).
handler403 = "pepbridge.backoffice.forbidden.permission_denied"
