"""Inbound API credentials and plumbing shared by the Operator API and the ingestion API."""

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "pepbridge.api"
    label = "api"
    verbose_name = "API credentials"

    def ready(self) -> None:
        # System checks and OpenAPI extensions.
        from pepbridge.api import checks, schema  # noqa: F401
