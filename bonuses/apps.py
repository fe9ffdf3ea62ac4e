"""Bonuses: the operator's bonus catalogue, player bonuses and PEP's assign-bonus requests."""

from django.apps import AppConfig


class BonusesConfig(AppConfig):
    name = "bonuses"

    def ready(self) -> None:
        from bonuses import checks  # noqa: F401  (registers the system checks)
