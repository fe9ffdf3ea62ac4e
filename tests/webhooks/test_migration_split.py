"""Migration webhooks.0006 (split in the worker): deliveries already stored count as split, and
it goes back only once nothing waits to be split."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("webhooks", "0005_rewards_cursor_view_rights")]
AFTER = [("webhooks", "0006_delivery_split_at")]


def _migrate(targets: list[tuple[str, str]]):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _delivery(model, key: str):
    return model.objects.create(
        timestamp_header="1", signed_at=timezone.now(), replay_key=key, key_slot=1,
        signed_form="raw", body='{"events":[]}',
    )  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_stored_deliveries_are_split_and_the_way_back_waits_for_the_worker() -> None:
    try:
        apps = _migrate(BEFORE)
        old = _delivery(apps.get_model("webhooks", "WebhookDelivery"), "a" * 64)

        apps = _migrate(AFTER)
        delivery = apps.get_model("webhooks", "WebhookDelivery")
        assert delivery.objects.get(pk=old.pk).split_at == old.received_at  # its request split it
        waiting = _delivery(delivery, "b" * 64)

        with pytest.raises(RuntimeError, match="1 webhook deliveries are not split"):
            _migrate(BEFORE)
        delivery.objects.filter(pk=waiting.pk).update(split_at=timezone.now())
        apps = _migrate(BEFORE)  # once split, it goes back
        assert apps.get_model("webhooks", "WebhookDelivery").objects.count() == 2
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
