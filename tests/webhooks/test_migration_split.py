"""Migration webhooks.0006 (split in the worker): deliveries already stored count as split, and
it goes back only once nothing waits to be split."""

from __future__ import annotations

import pytest
from django.utils import timezone

from tests.migrating import migrate_to, migrate_to_latest

BEFORE = [("webhooks", "0005_rewards_cursor_view_rights")]
AFTER = [("webhooks", "0006_delivery_split_at")]


def _delivery(model, key: str):
    return model.objects.create(
        timestamp_header="1", signed_at=timezone.now(), replay_key=key, key_slot=1,
        signed_form="raw", body='{"events":[]}',
    )  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_stored_deliveries_are_split_and_the_way_back_waits_for_the_worker() -> None:
    try:
        apps = migrate_to(BEFORE)
        old = _delivery(apps.get_model("webhooks", "WebhookDelivery"), "a" * 64)

        apps = migrate_to(AFTER)
        delivery = apps.get_model("webhooks", "WebhookDelivery")
        assert delivery.objects.get(pk=old.pk).split_at == old.received_at  # its request split it
        waiting = _delivery(delivery, "b" * 64)

        with pytest.raises(RuntimeError, match="1 webhook deliveries are not split"):
            migrate_to(BEFORE)
        delivery.objects.filter(pk=waiting.pk).update(split_at=timezone.now())
        apps = migrate_to(BEFORE)  # once split, it goes back
        assert apps.get_model("webhooks", "WebhookDelivery").objects.count() == 2
    finally:
        migrate_to_latest()
