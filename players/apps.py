"""Players: the operator's player master data, as PEP's CRM needs it."""

from django.apps import AppConfig


class PlayersConfig(AppConfig):
    name = "players"

    def ready(self) -> None:
        # The identity view's OpenAPI documentation (players/schema_identity.py).
        from players import schema_identity  # noqa: F401
