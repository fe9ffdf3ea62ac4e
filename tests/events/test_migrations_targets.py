"""Migration events.0009/0010 (targets): live rows get their lane key, and it migrates back."""

from __future__ import annotations

import pytest
from django.utils import timezone

from tests.migrating import migrate_to, migrate_to_latest

BEFORE = [("events", "0008_round_transactions")]
AFTER = [("events", "0010_subscription_rights")]


def _row(model, player: str | None, **fields):
    now = timezone.now()
    return model.objects.create(
        message_type="game_round", method="POST", path="/x", body="{}", fingerprint="f",
        player_id=player, occurred_at=now, **fields,
    )  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_live_rows_get_their_players_lane_and_rows_to_subscriptions_go_on_the_way_back() -> None:
    apps = migrate_to(BEFORE)
    old = apps.get_model("events", "OutboxMessage")
    keyed, unkeyed = _row(old, "p-1").pk, _row(old, None).pk

    apps = migrate_to(AFTER)
    outbox = apps.get_model("events", "OutboxMessage")
    assert dict(outbox.objects.values_list("pk", "lane")) == {keyed: "p-1", unkeyed: None}
    target = apps.get_model("events", "WebhookSubscription").objects.create(
        name="crm", url="https://crm.test/h", secret="whsec_x"
    )
    forwarded = _row(outbox, "p-1", subscription=target, lane=f"p-1>s{target.pk}").pk

    apps = migrate_to(BEFORE)  # reversible: rows to PEP stay, rows to a subscription cannot
    assert set(apps.get_model("events", "OutboxMessage").objects.values_list("pk", flat=True)) == {
        keyed,
        unkeyed,
    }
    assert forwarded not in (keyed, unkeyed)
    migrate_to_latest()
