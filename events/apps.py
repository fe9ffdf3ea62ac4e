"""Events: the messages to PEP, the transactional outbox and its delivery."""

from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Deliveries to PEP"

    def ready(self) -> None:
        from events import ingestion_schema  # noqa: F401  (the ingestion views' OpenAPI docs)
