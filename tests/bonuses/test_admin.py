"""The bonus admin's lifecycle actions and filters, driven through the real admin pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bonuses.models import PlayerBonus, RejectedAssignment

# The confirmation page's answer: risky actions need a reason (issue 13).
CONFIRMED = {"confirm": "yes", "reason": "ticket 42"}

pytestmark = pytest.mark.django_db
PLAYER_BONUSES = reverse("admin:bonuses_playerbonus_changelist")
REJECTED = reverse("admin:bonuses_rejectedassignment_changelist")


def staff(group: str) -> Client:
    """A logged-in client for a member of a group made by pepbridge.0003_staff_groups."""
    user = get_user_model().objects.create_user(group.replace(" ", "-"), is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def holding(make_bonus, make_player):
    bonus, player = make_bonus(), make_player("p-1")

    def make(*statuses: str) -> list[PlayerBonus]:
        return [PlayerBonus.objects.create(player=player, bonus=bonus, status=s) for s in statuses]

    return make


def _act(client: Client, action: str, rows: list[PlayerBonus]) -> Any:
    data = {
        "action": action,
        "_selected_action": [str(row.pk) for row in rows],
        **CONFIRMED,
    }
    return client.post(PLAYER_BONUSES, data, follow=True)


def _statuses(rows: list[PlayerBonus]) -> list[str]:
    return [PlayerBonus.objects.get(pk=row.pk).status for row in rows]


def _messages(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.mark.parametrize(("action", "status"), [("cancel", "cancelled"), ("forfeit", "forfeited")])
def test_a_bonus_manager_ends_bonuses_and_is_told_how_many(holding, action, status) -> None:
    rows = holding("granted", "active")
    response = _act(staff("Bonus managers"), f"{action}_selected", rows)
    assert response.status_code == 200
    assert _statuses(rows) == [status, status]
    assert _messages(response) == [f"2 player bonus(es) {status}."]


def test_the_action_reports_the_bonuses_the_lifecycle_does_not_allow(holding) -> None:
    rows = holding("granted", "completed", "expired")
    response = _act(staff("Admins"), "forfeit_selected", rows)
    assert _statuses(rows) == ["forfeited", "completed", "expired"]
    assert _messages(response) == [
        "1 player bonus(es) forfeited. 2 could not be forfeited: already ended, or their "
        "status does not allow it."
    ]


@pytest.mark.parametrize("group", ["Support", "Compliance"])
def test_staff_without_the_permission_cannot_end_a_bonus(holding, group) -> None:
    rows = holding("granted")
    client = staff(group)
    page = client.get(PLAYER_BONUSES)
    assert page.status_code == 200
    assert page.context["action_form"] is None  # no action is offered to them
    response = _act(client, "cancel_selected", rows)
    assert _statuses(rows) == ["granted"]
    assert not any("cancelled" in text for text in _messages(response))


def test_the_actions_are_offered_to_bonus_managers(holding) -> None:
    holding("granted")
    page = staff("Bonus managers").get(PLAYER_BONUSES)
    choices = dict(page.context["action_form"].fields["action"].choices)
    assert {"cancel_selected", "forfeit_selected"} <= set(choices)


def test_a_player_bonus_still_cannot_be_edited_by_hand(holding) -> None:
    (row,) = holding("granted")
    page = staff("Bonus managers").get(reverse("admin:bonuses_playerbonus_change", args=[row.pk]))
    assert page.context["has_change_permission"] is False


def _date_filter_fields(model_admin: admin.ModelAdmin) -> list[str]:
    return [item[0] for item in model_admin.list_filter if isinstance(item, tuple)]


def _leading_index_fields(model: type) -> set[str]:
    return {index.fields[0].lstrip("-") for index in model._meta.indexes}


def test_the_rejected_requests_date_filter_is_on_last_seen_and_indexed() -> None:
    model_admin = admin.site._registry[RejectedAssignment]
    assert _date_filter_fields(model_admin) == ["last_seen_at"]
    assert "last_seen_at" in _leading_index_fields(RejectedAssignment)


def test_the_rejected_requests_filter_finds_what_pep_retried_recently(make_bonus) -> None:
    long_ago = timezone.now() - timedelta(days=40)
    retried = RejectedAssignment.objects.create(
        client_key="pep", request_id="r-old-retried", fingerprint="a" * 64, body={},
        first_seen_at=long_ago, last_seen_at=timezone.now(),
    )  # fmt: skip
    RejectedAssignment.objects.create(
        client_key="pep", request_id="r-old", fingerprint="b" * 64, body={},
        first_seen_at=long_ago, last_seen_at=long_ago,
    )  # fmt: skip
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    page = staff("Support").get(  # the filter's "Past 7 days" link
        REJECTED,
        {
            "last_seen_at__gte": str(midnight - timedelta(days=7)),
            "last_seen_at__lt": str(midnight + timedelta(days=1)),
        },
    )
    assert page.status_code == 200
    assert list(page.context["cl"].result_list) == [retried]
