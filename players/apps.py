"""Players: the operator's player master data, as PEP's CRM needs it."""

from django.apps import AppConfig


class PlayersConfig(AppConfig):
    name = "players"

    def ready(self) -> None:
        from players import schema  # noqa: F401  (the ingestion views' OpenAPI documentation)
