"""The bonus admin: catalogue writes go through the services (so to PEP); the rest is read-only."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from bonuses.models import AssignmentItem, Bonus
from events.models import OutboxMessage
from tests.admin.conftest import (
    make_assignments,
    make_bonus,
    make_player_bonuses,
    make_rejections,
    outbox_rows,
)

pytestmark = pytest.mark.django_db
BONUS_LIST = reverse("admin:bonuses_bonus_changelist")
NEW_BONUS = {
    "bonus_id": "SPRING-5",
    "name": "Spring 5",
    "description": "",
    "bonus_type": "cash",
    "amount": "5",
    "percentage": "",
    "currency": "EUR",
    "wagering_requirement": "0",
    "is_active": "on",
    "valid_from_0": "",
    "valid_from_1": "",
    "valid_to_0": "",
    "valid_to_1": "",
    "expires_after_days": "",
    "max_grants_per_player": "",
}


def pep_messages() -> list[tuple[str, str]]:
    return list(OutboxMessage.objects.order_by("id").values_list("message_type", "path"))


def test_creating_a_bonus_pushes_it_to_pep(staff_client) -> None:
    client = staff_client("Bonus managers")
    response = client.post(reverse("admin:bonuses_bonus_add"), NEW_BONUS)
    assert response.status_code == 302, response.content
    bonus = Bonus.objects.get(bonus_id="SPRING-5")
    assert pep_messages() == [("bonus_offer_upsert", "/rx-api/bonus-offer/v1/offer/SPRING-5")]
    body = json.loads(OutboxMessage.objects.get().body)
    assert body["name"] == "Spring 5"
    assert response["Location"].endswith(reverse("admin:bonuses_bonus_changelist"))
    assert bonus.amount == 5


def test_editing_a_bonus_pushes_the_change(staff_client) -> None:
    client = staff_client("Bonus managers")
    bonus = make_bonus("SPRING-5")
    data = {**NEW_BONUS, "name": "Spring five"}
    data.pop("bonus_id")
    response = client.post(reverse("admin:bonuses_bonus_change", args=[bonus.pk]), data)
    assert response.status_code == 302, response.content
    assert json.loads(OutboxMessage.objects.get().body)["name"] == "Spring five"


def test_an_invalid_bonus_is_refused_with_the_reason_and_nothing_is_sent(staff_client) -> None:
    client = staff_client("Bonus managers")
    data = {**NEW_BONUS, "percentage": "10"}  # amount and percentage together
    response = client.post(reverse("admin:bonuses_bonus_add"), data)
    assert response.status_code == 200
    assert b"Give either an amount or a percentage, not both." in response.content
    assert not OutboxMessage.objects.exists()


def test_retiring_tells_pep_to_delete_the_offer(staff_client) -> None:
    client = staff_client("Bonus managers")
    bonus = make_bonus("OLD")
    response = client.post(
        BONUS_LIST, {"action": "retire_selected", "_selected_action": [str(bonus.pk)]}, follow=True
    )
    assert "1 bonus(es) retired; PEP will be told." in [
        str(m) for m in response.context["messages"]
    ]
    bonus.refresh_from_db()
    assert bonus.retired_at is not None
    assert pep_messages() == [("bonus_offer_delete", "/rx-api/bonus-offer/v1/offer/OLD")]


def test_a_bonus_page_shows_the_messages_sent_about_it(staff_client) -> None:
    client = staff_client("Bonus managers")
    bonus = make_bonus("SHOWN")
    outbox_rows(
        1, status="delivered", message_type="bonus_offer_upsert", player="bonus-offer:SHOWN"
    )
    response = client.get(reverse("admin:bonuses_bonus_change", args=[bonus.pk]))
    assert b"bonus_offer_upsert" in response.content
    assert b"player_id=bonus-offer%3ASHOWN" in response.content


def test_support_sees_the_catalogue_but_cannot_change_it(support) -> None:
    bonus = make_bonus()
    assert support.get(BONUS_LIST).status_code == 200
    assert support.get(reverse("admin:bonuses_bonus_add")).status_code == 403
    support.post(BONUS_LIST, {"action": "retire_selected", "_selected_action": [str(bonus.pk)]})
    bonus.refresh_from_db()
    assert bonus.retired_at is None


def test_nobody_deletes_a_bonus(staff_client) -> None:
    bonus = make_bonus()
    client = staff_client("Admins")
    assert client.get(reverse("admin:bonuses_bonus_delete", args=[bonus.pk])).status_code == 403


def test_an_assignment_page_shows_outcomes_retries_and_the_request(support) -> None:
    (assignment,) = make_assignments(1)
    assignment.duplicate_count = 3
    assignment.save()
    AssignmentItem.objects.create(assignment=assignment, player_id="p-1", outcome="granted")
    AssignmentItem.objects.create(
        assignment=assignment, player_id="p-2", outcome="refused", reason="self_excluded"
    )
    page = support.get(reverse("admin:bonuses_bonusassignment_changelist"))
    (row,) = page.context["cl"].result_list
    assert (row.granted_n, row.refused_n, row.duplicate_count) == (1, 1, 3)
    detail = support.get(reverse("admin:bonuses_bonusassignment_change", args=[assignment.pk]))
    assert b"Player self-excluded" in detail.content
    assert b"&quot;requestId&quot;" in detail.content


def test_a_rejected_request_shows_why(support) -> None:
    (rejected,) = make_rejections(1)
    page = support.get(reverse("admin:bonuses_rejectedassignment_changelist"))
    assert b"bonusId: unknown bonus" in page.content
    detail = support.get(reverse("admin:bonuses_rejectedassignment_change", args=[rejected.pk]))
    assert detail.status_code == 200


@pytest.mark.parametrize("rows", [5, 50])
@pytest.mark.parametrize(
    ("model", "make"),
    [
        ("playerbonus", make_player_bonuses),
        ("bonusassignment", make_assignments),
        ("rejectedassignment", make_rejections),
        ("bonus", lambda n: [make_bonus(f"B-{i}") for i in range(n)]),
    ],
)
def test_bonus_lists_query_count_does_not_grow_with_rows(
    support, django_assert_max_num_queries, rows: int, model: str, make
) -> None:
    make(rows)
    with django_assert_max_num_queries(10):
        response = support.get(reverse(f"admin:bonuses_{model}_changelist"))
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == min(rows, 50)


def test_player_bonuses_are_read_only(staff_client) -> None:
    (player_bonus,) = make_player_bonuses(1)
    client = staff_client("Admins")
    page = client.get(reverse("admin:bonuses_playerbonus_change", args=[player_bonus.pk]))
    assert page.context["has_change_permission"] is False
