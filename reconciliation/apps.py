"""Reconciliation: PEP's missing-data reports, their repair, and the append-only audit trail."""

from django.apps import AppConfig


class ReconciliationConfig(AppConfig):
    name = "reconciliation"

    def ready(self) -> None:
        # Learn when the operator supplies a value, through whichever way it comes in.
        from players.services import on_player_changed

        # System checks, and the views' OpenAPI documentation (reconciliation/schema.py).
        from reconciliation import checks, schema  # noqa: F401
        from reconciliation.repair import on_player_changed as repair_on_change

        if repair_on_change not in on_player_changed:
            on_player_changed.append(repair_on_change)
