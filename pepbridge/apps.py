"""The pepbridge project app: PEP token cache, sandbox command and system checks live here."""

from django.apps import AppConfig


class PepbridgeConfig(AppConfig):
    name = "pepbridge"
    verbose_name = "PEP connection"

    def ready(self) -> None:
        from pepbridge import checks  # noqa: F401  (registers the system checks)
