"""Migration events.0013: the outbox leaves room on its pages for a claim's in-place update."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.migrating import migrate_to, migrate_to_latest

BEFORE = [("events", "0012_subscription_rate_limit")]
AFTER = [("events", "0013_outbox_fillfactor")]
HEAP_ONLY_UPDATES = (
    "SELECT n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = 'events_outboxmessage'"
)


def _options() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'events_outboxmessage'")
        return list(cursor.fetchone()[0] or [])


def _claim_update_is_heap_only() -> bool:
    """Insert a row, update its lease columns, and ask PostgreSQL whether that was heap-only."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO events_outboxmessage (message_type, method, path, body, fingerprint,"
            " player_id, lane, occurred_at, created_at, status, trigger, attempts, retry_step,"
            " next_attempt_at, claimed_by, last_error_class, last_error, replay_count)"
            " SELECT 'game_round', 'POST', '/x', repeat('x', 200), md5(n::text), 'p', 'p',"
            " now(), now(), 'pending', 'scheduled', 0, 0, now(), '', '', '', 0"
            " FROM generate_series(1, 200) AS n"
        )
        cursor.execute(HEAP_ONLY_UPDATES)
        before = cursor.fetchone()[0]
        cursor.execute(
            "UPDATE events_outboxmessage SET claimed_by = 'w', lease_expires_at = now()"
            " WHERE player_id = 'p'"
        )
        cursor.execute(HEAP_ONLY_UPDATES)
        return cursor.fetchone()[0] - before == 200


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_outbox_pages_are_half_filled_and_the_setting_goes_back() -> None:
    migrate_to(AFTER)
    assert "fillfactor=50" in _options()

    migrate_to(BEFORE)
    assert not any(option.startswith("fillfactor") for option in _options())

    migrate_to_latest()
    assert "fillfactor=50" in _options()


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_claims_lease_on_freshly_inserted_rows_touches_no_index() -> None:
    assert _claim_update_is_heap_only()
