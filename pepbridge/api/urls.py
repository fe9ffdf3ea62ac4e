"""URL routes of this app (included from pepbridge/urls.py); `/api/auth/v1/player` is PEP's path."""

from django.urls import URLPattern, URLResolver, path, re_path

from pepbridge.api.views import PlayerIdentityView, TokenView

urlpatterns: list[URLPattern | URLResolver] = [
    # With or without the trailing slash: a POST cannot be redirected to add one.
    re_path(r"^oauth/token/?$", TokenView.as_view(), name="oauth-token"),
    path("api/auth/v1/player", PlayerIdentityView.as_view(), name="player-identity"),
]
