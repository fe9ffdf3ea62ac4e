"""The deliveries admin: lists, filters, payload and attempts, replay, and who may do what."""

from __future__ import annotations

import pytest
from django.urls import reverse

from events.models import OutboxMessage, Replay
from tests.admin.conftest import outbox_rows

# The confirmation page's answer: risky actions need a reason (issue 13).
CONFIRMED = {"confirm": "yes", "reason": "ticket 42"}

pytestmark = pytest.mark.django_db
LIST = reverse("admin:events_outboxmessage_changelist")


def ids_on_page(response) -> set[int]:
    return {row.pk for row in response.context["cl"].result_list}


def test_it_lists_deliveries_with_pending_and_failing_counts(support) -> None:
    outbox_rows(2, status="failed")
    outbox_rows(3, status="pending")
    response = support.get(LIST)
    assert response.status_code == 200
    assert response.context["outbox_counts"] == {"pending": 3, "failed": 2}
    assert b'id="outbox-counts"' in response.content


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status__exact=failed", "failed"),
        ("message_type=money_transaction", "money"),
        ("last_error_class=http_400", "failed"),
        ("last_error_class=__any__", "failed"),
        ("q=p-9", "other_player"),
        ("player_id=p-9", "other_player"),
        ("created_at__gte=2000-01-01T00%3A00%3A00%2B00%3A00", "all"),
    ],
)
def test_its_filters_narrow_the_list(support, query: str, expected: str) -> None:
    groups = {
        "failed": outbox_rows(2, status="failed"),
        "money": outbox_rows(1, status="pending", message_type="money_transaction"),
        "other_player": outbox_rows(1, status="delivered", player="p-9"),
    }
    groups["all"] = [row for rows in groups.values() for row in rows]
    response = support.get(f"{LIST}?{query}")
    assert response.status_code == 200
    assert ids_on_page(response) == {row.pk for row in groups[expected]}


@pytest.mark.parametrize("rows", [5, 50])
def test_the_list_query_count_does_not_grow_with_rows(
    support, django_assert_max_num_queries, rows: int
) -> None:
    outbox_rows(rows)
    with django_assert_max_num_queries(12):
        assert support.get(LIST).status_code == 200


@pytest.mark.parametrize("rows", [5, 50])
def test_the_attempt_list_query_count_does_not_grow_with_rows(
    support, django_assert_max_num_queries, rows: int
) -> None:
    outbox_rows(rows)
    with django_assert_max_num_queries(10):
        response = support.get(reverse("admin:events_deliveryattempt_changelist"))
    assert response.status_code == 200


def test_a_message_page_shows_its_payload_and_every_attempt(support) -> None:
    (row,) = outbox_rows(1)
    response = support.get(reverse("admin:events_outboxmessage_change", args=[row.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "&quot;playerId&quot;: &quot;p-1&quot;" in body  # indented JSON, escaped
    assert "attempts (newest first)" in body.lower()
    assert "http_400" in body


def test_replay_queues_the_selected_failed_messages_and_says_how_many(support) -> None:
    failed = outbox_rows(2, status="failed")
    delivered = outbox_rows(1, status="delivered", player="p-2")
    selected = [str(row.pk) for row in failed + delivered]
    response = support.post(
        LIST, {"action": "replay_selected", "_selected_action": selected, **CONFIRMED}, follow=True
    )
    texts = [str(message) for message in response.context["messages"]]
    assert "2 failed message(s) queued for replay." in texts
    assert "1 selected message(s) were not failed and were left as they were." in texts
    assert set(OutboxMessage.objects.filter(trigger="replay").values_list("id", flat=True)) == {
        row.pk for row in failed
    }
    assert Replay.objects.get().actor == "support"


def test_bonus_managers_cannot_replay(staff_client) -> None:
    client = staff_client("Bonus managers")
    (row,) = outbox_rows(1)
    page = client.get(LIST)
    assert page.context["action_form"] is None  # no action is offered to them at all
    client.post(LIST, {"action": "replay_selected", "_selected_action": [str(row.pk)]})
    row.refresh_from_db()
    assert row.status == "failed"
    assert not Replay.objects.exists()


def test_send_now_makes_pending_messages_due(support) -> None:
    (row,) = outbox_rows(1, status="pending")
    support.post(LIST, {"action": "send_selected_now", "_selected_action": [str(row.pk)]})
    row.refresh_from_db()
    assert row.trigger == "manual"


def test_nobody_adds_changes_or_deletes_messages_or_attempts(staff_client) -> None:
    client = staff_client("Admins")
    (row,) = outbox_rows(1)
    attempt = row.deliveries.get()
    assert client.get(reverse("admin:events_outboxmessage_add")).status_code == 403
    assert (
        client.get(reverse("admin:events_outboxmessage_delete", args=[row.pk])).status_code == 403
    )
    assert client.get(reverse("admin:events_deliveryattempt_add")).status_code == 403
    delete = reverse("admin:events_deliveryattempt_delete", args=[attempt.pk])
    assert client.get(delete).status_code == 403
    change = client.get(reverse("admin:events_deliveryattempt_change", args=[attempt.pk]))
    assert change.context["has_change_permission"] is False


def test_staff_without_a_group_cannot_see_deliveries(db, client, django_user_model) -> None:
    user = django_user_model.objects.create_user("nobody", password="pw", is_staff=True)
    client.force_login(user)
    assert client.get(LIST).status_code == 403
