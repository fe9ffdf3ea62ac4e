"""URL routes of this app (included from pepbridge/urls.py)."""

from django.urls import URLPattern, URLResolver, re_path

from pepbridge.api.views import TokenView

urlpatterns: list[URLPattern | URLResolver] = [
    # With or without the trailing slash: a POST cannot be redirected to add one.
    re_path(r"^oauth/token/?$", TokenView.as_view(), name="oauth-token"),
]
