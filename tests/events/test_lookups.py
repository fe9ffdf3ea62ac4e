"""events.lookups.AnyOf: the same rows as `__in`, as one array parameter on PostgreSQL."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from events.lookups import AnyOf
from events.models import OutboxLane, OutboxMessage
from events.outbox import enqueue
from tests.events.outbox_fixtures import message


@pytest.mark.django_db
def test_any_of_matches_what_in_matches_for_ids_and_lane_keys() -> None:
    rows = [enqueue(message(f"p-{n % 3}", n)) for n in range(6)]
    ids = [rows[0].pk, rows[3].pk, rows[5].pk, 10**9]
    by_id = OutboxMessage.objects.filter(AnyOf(F("id"), ids))
    assert set(by_id.values_list("pk", flat=True)) == {rows[0].pk, rows[3].pk, rows[5].pk}
    lanes = OutboxLane.objects.filter(AnyOf(F("player_id"), ["p-1", "p-2", "nobody"]))
    assert set(lanes.values_list("player_id", flat=True)) == {"p-1", "p-2"}
    assert not OutboxMessage.objects.filter(AnyOf(F("id"), [])).exists()
    assert OutboxMessage.objects.filter(AnyOf(F("id"), ids)).update(claimed_by="w") == 3


@pytest.mark.postgres
@pytest.mark.django_db
def test_on_postgresql_the_list_is_one_parameter_whatever_its_length() -> None:
    statements = []
    for count in (1, 100):
        with CaptureQueriesContext(connection) as captured:
            list(OutboxMessage.objects.filter(AnyOf(F("id"), range(count))))
        statements.append(captured.captured_queries[-1]["sql"])
    assert all("= ANY(" in sql and " IN (" not in sql for sql in statements)
    # The statement's shape does not change with the count (only the array literal does).
    assert statements[0].split("ANY(")[0] == statements[1].split("ANY(")[0]
