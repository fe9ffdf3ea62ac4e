"""Players: the operator's player master data, as PEP's CRM needs it."""

from django.apps import AppConfig


class PlayersConfig(AppConfig):
    name = "players"

    def ready(self) -> None:
        # The OpenAPI documentation of the ingestion views (players/schema.py, event_schema.py)
        # and of the identity view (players/schema_identity.py).
        from players import event_schema, schema, schema_identity  # noqa: F401
