"""Players: the operator's player master data, as PEP's CRM needs it."""

from django.apps import AppConfig


class PlayersConfig(AppConfig):
    name = "players"
