"""Bonuses: the operator's bonus catalogue, player bonuses and PEP's assign-bonus requests."""

from django.apps import AppConfig


class BonusesConfig(AppConfig):
    name = "bonuses"

    def ready(self) -> None:
        # System checks, and the views' OpenAPI documentation (bonuses/schema.py).
        from bonuses import checks, schema  # noqa: F401
