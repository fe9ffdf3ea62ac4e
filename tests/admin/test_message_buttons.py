"""A message's own page has its actions as buttons: replay, send now, cancel (issue 13)."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from events import services
from events.models import OutboxMessage
from pepbridge.backoffice.models import StaffAction
from tests.admin.conftest import outbox_rows
from tests.events.outbox_fixtures import BASE, message, put

pytestmark = pytest.mark.django_db
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def page_of(row: OutboxMessage) -> str:
    return reverse("admin:events_outboxmessage_change", args=[row.pk])


def act_url(row: OutboxMessage, verb: str) -> str:
    return reverse("admin:events_outboxmessage_act", args=[row.pk, verb])


def buttons(client: Client, row: OutboxMessage) -> list[str]:
    page = client.get(page_of(row)).content.decode()
    return re.findall(r'name="verb" value="([^"]+)"', page)


def attempt_outcomes(page: str) -> list[str]:
    cells = re.findall(r'<td class="field-outcome">(.*?)</td>', page, re.S)
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in cells]


def test_each_state_offers_its_own_buttons(support) -> None:
    (failed,) = outbox_rows(1, status="failed")
    (pending,) = outbox_rows(1, status="pending", player="p-2")
    (delivered,) = outbox_rows(1, status="delivered", player="p-3")
    assert buttons(support, failed) == ["replay", "cancel"]
    assert buttons(support, pending) == ["send-now", "cancel"]
    assert buttons(support, delivered) == []


def test_staff_without_the_replay_right_see_no_button_and_may_not_post(staff_client) -> None:
    client = staff_client("Compliance")
    (row,) = outbox_rows(1, status="failed")
    assert buttons(client, row) == []
    assert client.post(act_url(row, "replay")).status_code == 403
    assert OutboxMessage.objects.get(pk=row.pk).status == "failed"


def test_the_replay_button_posts_with_csrf_and_the_page_then_shows_the_new_attempt(
    outbox_pep, outbox_client
) -> None:
    user = get_user_model().objects.create_user("lena", is_staff=True)
    user.groups.add(Group.objects.get(name="Support"))
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    outbox_pep.post(f"{BASE}/rx-api/test/game_round", status=400)
    outbox_pep.post(f"{BASE}/rx-api/test/game_round", status=200)
    (row,) = put(message("p-1", 1))
    services.drain(max_seconds=5, worker="w1", client=outbox_client, sleep=lambda s: None)

    assert client.post(act_url(row, "replay")).status_code == 403  # no token, no replay
    token = CSRF.search(client.get(page_of(row)).content.decode()).group(1)
    answer = client.post(act_url(row, "replay"), {"csrfmiddlewaretoken": token}, follow=True)
    assert answer.redirect_chain[-1][0] == page_of(row)
    page = answer.content.decode()
    assert "1 message queued for replay." in page
    assert 'http-equiv="refresh"' in page  # the page follows the send
    assert "Previous error (before the replay at" in page
    record = StaffAction.objects.get()
    assert (record.username, record.action, record.object_ids) == ("lena", "replay", [str(row.pk)])

    services.drain(max_seconds=5, worker="w1", client=outbox_client, sleep=lambda s: None)
    page = client.get(page_of(row)).content.decode()
    assert "Delivered at" in page
    assert attempt_outcomes(page) == ["Delivered", "Dead-lettered"]  # newest first
    assert 'http-equiv="refresh"' not in page


def test_replay_and_send_now_answer_405_to_a_get(support) -> None:
    (row,) = outbox_rows(1, status="failed")
    assert support.get(act_url(row, "replay")).status_code == 405
    assert OutboxMessage.objects.get(pk=row.pk).status == "failed"


def test_send_now_makes_a_pending_row_due_and_records_it(support) -> None:
    (row,) = outbox_rows(1, status="pending")
    support.post(act_url(row, "send-now"))
    assert OutboxMessage.objects.get(pk=row.pk).trigger == "manual"
    assert StaffAction.objects.get().action == "send_now"


def test_cancel_asks_why_then_cancels_and_records_it(support) -> None:
    (row,) = outbox_rows(1, status="failed")
    form = support.get(act_url(row, "cancel")).content.decode()
    assert 'name="reason"' in form
    blank = support.post(act_url(row, "cancel"), {"confirm": "yes", "reason": ""})
    assert "This field is required." in blank.content.decode()
    assert OutboxMessage.objects.get(pk=row.pk).status == "failed"

    support.post(act_url(row, "cancel"), {"confirm": "yes", "reason": "duplicate of #7"})
    row.refresh_from_db()
    assert row.status == "cancelled"
    assert (StaffAction.objects.get().action, StaffAction.objects.get().reason) == (
        "cancel_message",
        "duplicate of #7",
    )
    assert "Cancelled by staff" in support.get(page_of(row)).content.decode()


def test_a_button_for_a_state_the_row_has_left_changes_nothing(support) -> None:
    (row,) = outbox_rows(1, status="delivered")
    support.post(act_url(row, "replay"), follow=True)
    assert OutboxMessage.objects.get(pk=row.pk).status == "delivered"
    assert not StaffAction.objects.exists()
