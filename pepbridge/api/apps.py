"""Inbound API credentials and plumbing shared by the Operator API and the ingestion API."""

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "pepbridge.api"
    label = "api"
    verbose_name = "API credentials"

    def ready(self) -> None:
        # System checks, OpenAPI extensions and the identity view's documentation.
        from pepbridge.api import checks, schema, schema_identity  # noqa: F401
