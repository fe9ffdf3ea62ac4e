"""App config for the PEP event webhook inbox."""

from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "PEP event webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from webhooks import schema  # noqa: F401  (the view's OpenAPI documentation)
