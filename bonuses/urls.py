"""URL routes of this app (included from pepbridge/urls.py); the paths are PEP's."""

from django.urls import URLPattern, URLResolver, path

from bonuses.views import AssignBonusView, BonusListView

urlpatterns: list[URLPattern | URLResolver] = [
    path("api/bonus/v1/assign-bonus", AssignBonusView.as_view(), name="bonus-assign"),
    path("api/bonus/v1/bonuses", BonusListView.as_view(), name="bonus-list"),
]
