"""Staff pages of the inbox: decoded, masked without personal-data access, fulfil now."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from bonuses.models import PlayerBonus
from pepbridge.backoffice.models import StaffAction
from players.models import Player
from tests.webhooks.conftest import URL, event, item, make_webhook_rows, signed_headers
from webhooks.models import Fulfilment, InboxEvent, ProductMapping
from webhooks.processing import inbox_process_pending

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client() -> Any:
    """A logged-in client for a member of a staff group (made by pepbridge.0003)."""

    def make(group: str) -> Client:
        username = group.lower().replace(" ", "-")
        user = get_user_model().objects.create_user(username, password="pw", is_staff=True)
        user.groups.add(Group.objects.get(name=group))
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def root() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", password="pw"))
    return client


def test_the_inbox_shows_the_payload_decoded(root: Client) -> None:
    make_webhook_rows()
    level = InboxEvent.objects.get(event_name="level_up")
    page = root.get(reverse("admin:webhooks_inboxevent_change", args=[level.pk])).content.decode()
    assert "CurrentLevel" in page and "<td>9</td>" in page and "Gold" in page


def test_without_personal_data_access_values_are_masked() -> None:
    make_webhook_rows()
    user = get_user_model().objects.create_user("viewer", password="pw", is_staff=True)
    client = Client()
    client.force_login(user)
    user.user_permissions.add(Permission.objects.get(codename="view_inboxevent"))
    level = InboxEvent.objects.get(event_name="level_up")
    page = client.get(reverse("admin:webhooks_inboxevent_change", args=[level.pk])).content.decode()
    assert "wh-1" in page and "Gold" not in page and "***" in page


def test_the_player_page_shows_level_rank_xp_and_tokens(root: Client) -> None:
    make_webhook_rows()
    player = Player.objects.get(player_id="wh-1")
    page = root.get(reverse("admin:players_player_change", args=[player.pk])).content.decode()
    assert "level 9 · rank Gold · XP 900" in page and "5 tokens" in page


def test_fulfil_now_grants_a_newly_mapped_purchase_and_records_who(root: Client) -> None:
    make_webhook_rows()
    unmapped = event("product_purchase", "wh-1", items=(item("ProductId", "later"),))
    body = json.dumps({"events": [unmapped]}).encode()
    Client().post(URL, data=body, content_type="application/json", **signed_headers(body))
    inbox_process_pending(max_seconds=30)
    waiting = Fulfilment.objects.get(product_id="later")
    assert waiting.status == Fulfilment.Status.PENDING
    ProductMapping.objects.create(pep_product_id="later", bonus=ProductMapping.objects.get().bonus)

    url = reverse("admin:webhooks_fulfilment_changelist")
    root.post(url, {"action": "fulfil_now", "_selected_action": [waiting.pk]})

    waiting.refresh_from_db()
    assert waiting.status == Fulfilment.Status.DONE
    assert PlayerBonus.objects.count() == 2
    action = StaffAction.objects.get(action="fulfil_now")
    assert action.username == "root" and action.object_ids == [str(waiting.pk)]
    # The staff-actions list names the action, not its code.
    assert action.get_action_display() == "Fulfil reward-shop purchases now"


@pytest.mark.parametrize(
    ("group", "allowed", "denied"),
    [
        ("Support", ["webhooks.change_inboxevent"], ["webhooks.change_fulfilment"]),
        (
            "Bonus managers",
            ["webhooks.change_fulfilment", "webhooks.add_productmapping"],
            ["webhooks.delete_productmapping", "webhooks.change_inboxevent"],
        ),
        ("Compliance", ["webhooks.view_inboxevent"], ["webhooks.change_fulfilment"]),
        ("Admins", ["webhooks.change_fulfilment", "webhooks.delete_productmapping"], []),
    ],
)
def test_each_staff_group_has_its_webhook_rights(
    staff_client: Any, group: str, allowed: list[str], denied: list[str]
) -> None:
    staff_client(group)
    user = get_user_model().objects.get(username=group.lower().replace(" ", "-"))
    assert [perm for perm in allowed if not user.has_perm(perm)] == []
    assert [perm for perm in denied if user.has_perm(perm)] == []


def test_a_bonus_manager_can_fulfil_now(staff_client: Any) -> None:
    make_webhook_rows()
    record = Fulfilment.objects.get()
    Fulfilment.objects.filter(pk=record.pk).update(status=Fulfilment.Status.FAILED)
    client = staff_client("Bonus managers")
    url = reverse("admin:webhooks_fulfilment_changelist")
    answer = client.post(url, {"action": "fulfil_now", "_selected_action": [record.pk]})
    assert answer.status_code == 302
    assert StaffAction.objects.get(action="fulfil_now").username == "bonus-managers"


def test_the_delivery_list_shows_which_deliveries_wait_for_the_worker(
    root: Client, post_events: Any
) -> None:
    make_webhook_rows()  # one delivery, split by its processing pass
    post_events([event("level_up", "wh-2")])  # stored, not split yet
    url = reverse("admin:webhooks_webhookdelivery_changelist")

    waiting = root.get(url, {"split": "no"})
    done = root.get(url, {"split": "yes"})

    assert waiting.status_code == done.status_code == 200
    assert waiting.context["cl"].result_count == 1 and done.context["cl"].result_count == 1
    assert waiting.context["cl"].result_list[0].split_at is None
    assert "Not yet (waiting for the worker)" in waiting.content.decode()
