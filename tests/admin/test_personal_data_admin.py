"""Payloads and PEP's error texts of personal-data messages, as each staff group sees them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from events.models import DeliveryAttempt
from tests.admin.conftest import GROUPS, outbox_rows

pytestmark = pytest.mark.django_db

EMAIL = "anna.meier@example.com"
SEES_PERSONAL_DATA = {"Support": True, "Admins": True, "Bonus managers": False, "Compliance": False}


def personal_message(message_type: str = "player_update"):
    """A dead letter carrying an e-mail in its body, its last error and its attempt's excerpt."""
    (row,) = outbox_rows(1, status="failed", message_type=message_type, player="p-7")
    row.body = f'{{"email":"{EMAIL}","firstName":"Anna"}}'
    row.last_error = f"400: email {EMAIL} already taken"
    row.save(update_fields=["body", "last_error"])
    row.deliveries.update(error_excerpt=f'{{"message":"{EMAIL} already taken"}}')
    return row


def pages(row) -> dict[str, str]:
    attempt = DeliveryAttempt.objects.get(message=row)
    return {
        "message": reverse("admin:events_outboxmessage_change", args=[row.pk]),
        "attempt list": reverse("admin:events_deliveryattempt_changelist"),
        "attempt": reverse("admin:events_deliveryattempt_change", args=[attempt.pk]),
    }


@pytest.mark.parametrize("group", GROUPS)
@pytest.mark.parametrize("message_type", ["player_update", "player_create", "player_tags"])
def test_it_shows_personal_payloads_and_errors_only_to_groups_that_may_see_them(
    staff_client, group: str, message_type: str
) -> None:
    client = staff_client(group)
    row = personal_message(message_type)
    for name, url in pages(row).items():
        response = client.get(url)
        assert response.status_code == 200, name
        shown = EMAIL in response.content.decode()
        assert shown is SEES_PERSONAL_DATA[group], f"{group} on the {name} page"


@pytest.mark.parametrize("group", ["Bonus managers", "Compliance"])
def test_it_keeps_the_payloads_shape_and_player_id_when_redacted(staff_client, group) -> None:
    client = staff_client(group)
    row = personal_message()
    body = client.get(reverse("admin:events_outboxmessage_change", args=[row.pk])).content
    html = body.decode()
    assert "&quot;email&quot;: &quot;***&quot;" in html  # which fields were sent, not their values
    assert "Anna" not in html
    assert row.fingerprint not in html  # a hash of a short body can be guessed


def test_it_shows_other_message_types_in_full_to_every_group(staff_client) -> None:
    client = staff_client("Compliance")
    (row,) = outbox_rows(1, status="failed", message_type="game_round", player="p-7")
    html = client.get(reverse("admin:events_outboxmessage_change", args=[row.pk])).content.decode()
    assert "&quot;playerId&quot;: &quot;p-7&quot;" in html
    assert "&quot;seq&quot;: 0" in html
    assert "bad request" in html
