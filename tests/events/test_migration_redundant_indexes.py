"""Migrations events.0014 and webhooks.0007: indexes no query uses are dropped, and come back."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.migrating import migrate_to, migrate_to_latest

BEFORE = [("events", "0013_outbox_fillfactor"), ("webhooks", "0006_delivery_split_at")]
AFTER = [
    ("events", "0014_outbox_redundant_indexes"),
    ("webhooks", "0007_delivery_replay_key_like_index"),
]
TABLES = ("events_outboxmessage", "events_outboxlane", "webhooks_webhookdelivery")


def _indexes() -> dict[str, set[str]]:
    """Each table's indexes as (columns, access method options) descriptions, not names."""
    found: dict[str, set[str]] = {}
    with connection.cursor() as cursor:
        for table in TABLES:
            constraints = connection.introspection.get_constraints(cursor, table)
            found[table] = {
                ",".join(spec["columns"]) + (" pattern" if "_like" in name else "")
                for name, spec in constraints.items()
                if spec["index"] and not spec["primary_key"]
            }
    return found


@pytest.mark.django_db(transaction=True)
def test_the_subscription_key_keeps_only_the_composite_index() -> None:
    migrate_to(BEFORE)
    before = _indexes()["events_outboxmessage"]
    assert "subscription_id" in before
    assert "subscription_id,created_at" in before

    migrate_to(AFTER)
    after = _indexes()["events_outboxmessage"]
    assert "subscription_id" not in after
    assert "subscription_id,created_at" in after

    migrate_to_latest()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_pattern_copies_go_and_come_back_on_postgresql() -> None:
    migrate_to(BEFORE)
    before = _indexes()
    assert "dedup_key pattern" in before["events_outboxmessage"]
    assert "player_id pattern" in before["events_outboxlane"]
    assert "replay_key pattern" in before["webhooks_webhookdelivery"]

    migrate_to(AFTER)
    after = _indexes()
    assert not any(" pattern" in index for indexes in after.values() for index in indexes)
    # Everything else is untouched.
    for table in TABLES:
        expected = {index for index in before[table] if not index.endswith(" pattern")}
        expected.discard("subscription_id")
        assert after[table] == expected

    migrate_to(BEFORE)
    assert _indexes() == before
    migrate_to_latest()
