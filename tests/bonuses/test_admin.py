"""The bonus admin's lifecycle actions and filters, driven through the real admin pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bonuses.models import (
    AssignmentItem,
    Bonus,
    BonusAssignment,
    DailyGrantBudget,
    PlayerBonus,
    RejectedAssignment,
)
from events.models import OutboxMessage

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


# --- money limits, budgets, refused and failed requests -------------------------------------

BONUS_ADD = reverse("admin:bonuses_bonus_add")
BUDGETS = reverse("admin:bonuses_dailygrantbudget_changelist")
BUDGET_ADD = reverse("admin:bonuses_dailygrantbudget_add")
ASSIGNMENTS = reverse("admin:bonuses_bonusassignment_changelist")


def test_the_bonus_page_shows_the_limits_with_their_help(make_bonus) -> None:
    bonus = make_bonus()
    page = staff("Bonus managers").get(reverse("admin:bonuses_bonus_change", args=[bonus.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    for field in (
        "amount_override_allowed",
        "min_amount_per_grant",
        "daily_cap",
        "daily_cap_per_player",
    ):
        assert f'name="{field}"' in html
    assert "assign-bonus request give its own amount?" in html
    assert "Empty: no limit." in html


def test_a_bonus_manager_sets_limits_through_the_catalogue_service() -> None:
    form = {
        "bonus_id": "CASH10",
        "name": "Cash 10",
        "bonus_type": "cash",
        "amount": "10",
        "currency": "EUR",
        "wagering_requirement": "30",
        "is_active": "on",
        "max_amount_per_grant": "50",
        "daily_cap": "1000",
    }
    response = staff("Bonus managers").post(BONUS_ADD, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    bonus = Bonus.objects.get()
    assert (bonus.max_amount_per_grant, bonus.daily_cap) == (50, 1000)
    assert bonus.amount_override_allowed is False  # an unticked box
    assert OutboxMessage.objects.filter(message_type="bonus_offer_upsert").exists()


def test_an_admin_sets_a_daily_budget_and_who_did_it_is_kept() -> None:
    client = staff("Admins")
    response = client.post(BUDGET_ADD, {"currency": "EUR", "daily_limit": "5000"})
    assert response.status_code == 302
    budget = DailyGrantBudget.objects.get()
    assert budget.changed_by.username == "Admins"
    assert budget.daily_limit == 5000
    assert "Admins" in client.get(BUDGETS).content.decode()


@pytest.mark.parametrize("group", ["Bonus managers", "Compliance", "Support"])
def test_other_groups_see_the_budgets_but_cannot_change_them(group) -> None:
    DailyGrantBudget.objects.create(currency="EUR", daily_limit=100)
    client = staff(group)
    assert client.get(BUDGETS).status_code == 200
    assert client.post(BUDGET_ADD, {"currency": "USD", "daily_limit": "1"}).status_code == 403
    assert DailyGrantBudget.objects.count() == 1


def _request_with(make_bonus, make_player, **fields: Any) -> BonusAssignment:
    make_player("p-1")
    return BonusAssignment.objects.create(
        sender="pep",
        client_key="apikey:k",
        request_id="r-1",
        fingerprint="f",
        body={},
        event_date=timezone.now(),
        bonus=make_bonus(),
        player_ids=["p-1"],
        **fields,
    )


def test_a_refused_request_shows_the_reason_staff_can_read(make_bonus, make_player) -> None:
    assignment = _request_with(make_bonus, make_player)
    AssignmentItem.objects.create(
        assignment=assignment, player_id="p-1", outcome="refused", reason="daily_budget"
    )
    page = staff("Compliance").get(
        reverse("admin:bonuses_bonusassignment_change", args=[assignment.pk])
    )
    assert "The daily budget for the currency is spent" in page.content.decode()


def test_a_bonus_manager_retries_a_failed_request_and_it_is_logged(make_bonus, make_player) -> None:
    assignment = _request_with(
        make_bonus, make_player, status="failed", failure_reason="DataError: numeric overflow"
    )
    client = staff("Bonus managers")
    page = client.get(reverse("admin:bonuses_bonusassignment_change", args=[assignment.pk]))
    assert "DataError: numeric overflow" in page.content.decode()

    data = {"action": "retry_failed", "_selected_action": [str(assignment.pk)]}
    response = client.post(ASSIGNMENTS, data, follow=True)

    assert _messages(response) == [
        "1 failed request(s) queued again; the sweep grants them within minutes."
    ]
    assignment.refresh_from_db()
    assert (assignment.status, assignment.failure_reason) == ("accepted", "")
    entry = LogEntry.objects.get(object_id=str(assignment.pk))
    assert entry.user.username == "Bonus-managers"


def test_staff_without_the_permission_cannot_retry(make_bonus, make_player) -> None:
    assignment = _request_with(make_bonus, make_player, status="failed", failure_reason="x")
    data = {"action": "retry_failed", "_selected_action": [str(assignment.pk)]}
    staff("Compliance").post(ASSIGNMENTS, data)
    assignment.refresh_from_db()
    assert assignment.status == "failed"
