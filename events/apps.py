"""Events: the messages to PEP, the transactional outbox and its delivery."""

from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Deliveries to PEP"

    def ready(self) -> None:
        # System checks that need the delivery code's constants (events/checks.py).
        from events import checks  # noqa: F401
