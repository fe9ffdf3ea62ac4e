"""The figures /metrics reads from the database: right, and cheap at any depth."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bonuses.models import (
    AssignmentItem,
    Bonus,
    BonusAssignment,
    BonusType,
    RejectedAssignment,
)
from events.models import EndpointState, OutboxMessage
from pepbridge import metrics_db
from pepbridge.metrics_db import DatabaseCollector
from tests.admin.conftest import outbox_rows
from webhooks.models import InboxEvent, WebhookDelivery

pytestmark = pytest.mark.django_db


def collected() -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """One scrape of the database collector alone, parsed back from the text format."""
    registry = CollectorRegistry()
    registry.register(DatabaseCollector())
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def scrape_queries() -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        collected()
    return [query["sql"] for query in queries.captured_queries]


def test_it_counts_pending_and_failed_rows_exactly_below_the_bound() -> None:
    outbox_rows(3, status="pending", player="p-1")
    outbox_rows(2, status="failed", player="p-2")
    outbox_rows(4, status="delivered", player="p-3")

    samples = collected()

    assert samples["pepbridge_outbox_rows"] == {(("status", "pending"),): 3,
                                                (("status", "failed"),): 2}  # fmt: skip
    assert set(samples["pepbridge_outbox_rows_estimated"].values()) == {0}


def test_above_the_bound_the_figure_is_marked_as_an_estimate(monkeypatch) -> None:
    monkeypatch.setattr(metrics_db, "EXACT_UP_TO", 3)
    outbox_rows(6, status="pending")

    samples = collected()

    assert samples["pepbridge_outbox_rows_estimated"][(("status", "pending"),)] == 1
    assert samples["pepbridge_outbox_rows_estimated"][(("status", "failed"),)] == 0
    # Never below what was counted: on SQLite the bound itself (a lower bound).
    assert samples["pepbridge_outbox_rows"][(("status", "pending"),)] >= 4


@pytest.mark.postgres
def test_on_postgresql_the_estimate_comes_from_the_planner(monkeypatch) -> None:
    monkeypatch.setattr(metrics_db, "EXACT_UP_TO", 10)
    outbox_rows(500, status="pending")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE events_outboxmessage")

    figure, estimated = metrics_db.bounded_count(OutboxMessage.objects.filter(status="pending"))

    assert estimated
    assert 250 <= figure <= 1000


def test_oldest_due_age_counts_only_a_players_head() -> None:
    now = timezone.now()
    # p-1's first row waits out a backoff; its second, long due, waits behind it by design.
    outbox_rows(1, status="pending", player="p-1", next_attempt_at=now + timedelta(minutes=5))
    outbox_rows(1, status="pending", player="p-1", next_attempt_at=now - timedelta(hours=2))
    assert metrics_db.oldest_due_age(now) == 0.0

    outbox_rows(1, status="pending", player="p-2", next_attempt_at=now - timedelta(seconds=90))

    assert metrics_db.oldest_due_age(now) == pytest.approx(90, abs=1)


def test_a_row_in_flight_is_not_overdue() -> None:
    now = timezone.now()
    outbox_rows(1, status="pending", player="p-1", next_attempt_at=now - timedelta(minutes=1),
                lease_expires_at=now + timedelta(minutes=1))  # fmt: skip

    assert metrics_db.oldest_due_age(now) == 0.0


def test_circuits_are_one_state_set_per_endpoint() -> None:
    EndpointState.objects.create(message_type="game_round", circuit="half_open")
    EndpointState.objects.create(message_type="player_login")

    circuit = collected()["pepbridge_pep_circuit_state"]

    assert circuit[(("endpoint", "game_round"), ("state", "half_open"))] == 1
    assert circuit[(("endpoint", "game_round"), ("state", "open"))] == 0
    assert circuit[(("endpoint", "player_login"), ("state", "closed"))] == 1
    assert sum(circuit.values()) == 2


def test_assign_bonus_requests_by_outcome_over_the_last_hour() -> None:
    now = timezone.now()
    bonus = Bonus.objects.create(bonus_id="B", name="B", bonus_type=BonusType.CASH,
                                 amount=Decimal("5"), currency="EUR")  # fmt: skip
    common = {"client_key": "pep", "fingerprint": "f" * 64, "body": {}, "event_date": now}
    BonusAssignment.objects.create(request_id="r1", bonus=bonus, **common,
                                   received_at=now - timedelta(minutes=10))  # fmt: skip
    BonusAssignment.objects.create(request_id="r0", bonus=bonus, **common, status="processed",
                                   received_at=now - timedelta(hours=3))  # fmt: skip
    RejectedAssignment.objects.create(client_key="pep", fingerprint="x" * 64, body={})

    samples = collected()

    requests = samples["pepbridge_assign_bonus_requests_last_hour"]
    assert requests == {(("outcome", "accepted"),): 1, (("outcome", "rejected"),): 1,
                        (("outcome", "conflict"),): 0}  # fmt: skip
    oldest = samples["pepbridge_assign_bonus_oldest_unprocessed_age_seconds"][()]
    assert oldest == pytest.approx(600, abs=5)


def test_money_limit_refusals_of_the_last_hour_by_reason() -> None:
    now = timezone.now()
    bonus = Bonus.objects.create(bonus_id="B", name="B", bonus_type=BonusType.CASH,
                                 amount=Decimal("5"), currency="EUR")  # fmt: skip
    request = BonusAssignment.objects.create(
        request_id="r1", bonus=bonus, client_key="pep", fingerprint="f" * 64, body={},
        event_date=now,
    )  # fmt: skip
    refused = AssignmentItem.Outcome.REFUSED
    for n, (reason, ago) in enumerate(
        [("daily_budget", 5), ("daily_budget", 10), ("above_max", 20), ("above_max", 90),
         ("unknown_player", 5)]
    ):  # fmt: skip
        AssignmentItem.objects.create(
            assignment=request, player_id=f"p-{n}", outcome=refused, reason=reason,
            decided_at=now - timedelta(minutes=ago),
        )  # fmt: skip

    refusals = collected()["pepbridge_bonus_limit_refusals_last_hour"]

    # Only money limits, only the last hour: not the unknown player, not the 90-minute-old one;
    # every limit is a series, at zero when nothing was refused for it.
    assert refusals[(("reason", "daily_budget"),)] == 2
    assert refusals[(("reason", "above_max"),)] == 1
    assert (("reason", "unknown_player"),) not in refusals
    assert sum(refusals.values()) == 3 and len(refusals) == len(AssignmentItem.LIMIT_REASONS)


def test_the_webhook_work_waiting_for_the_worker_by_stage() -> None:
    def delivery(n: int, split: bool) -> WebhookDelivery:
        return WebhookDelivery.objects.create(
            signed_at=timezone.now(), timestamp_header="1", replay_key=f"{n:064d}", key_slot=1,
            signed_form="raw", body="{}", split_at=timezone.now() if split else None,
        )  # fmt: skip

    delivery(1, split=False)
    delivery(2, split=False)
    done = delivery(3, split=True)
    for n, status in enumerate(("pending", "pending", "pending", "processed")):
        InboxEvent.objects.create(
            delivery=done, dedup_key=f"k{n}", event_name="level_up", raw={}, status=status
        )

    assert collected()["pepbridge_webhook_inbox_waiting"] == {
        (("stage", "split"),): 2,
        (("stage", "process"),): 3,
    }


def test_a_scrape_costs_the_same_queries_at_any_depth() -> None:
    shallow = scrape_queries()
    for index in range(20):
        outbox_rows(5, status="pending", player=f"p-{index}")
    outbox_rows(30, status="failed")
    for message_type in ("game_round", "money_transaction", "player_login"):
        EndpointState.objects.create(message_type=message_type, circuit="open")

    deep = scrape_queries()

    assert len(deep) == len(shallow) <= 11  # two of them: the webhook inbox's stages
    # No query reads the outbox without a LIMIT: never a count over the whole table.
    outbox = [sql for sql in deep if "events_outboxmessage" in sql]
    assert outbox
    assert all("LIMIT" in sql.upper() for sql in outbox), outbox
