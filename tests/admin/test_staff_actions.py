"""Every staff action records who, when, what and why, in one list and in each row's History."""

from __future__ import annotations

from unittest import mock

import pytest
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import translation
from oauth2_provider.models import get_application_model

from bonuses.models import PlayerBonus
from events.models import OutboxMessage
from pepbridge.admin import delete_selected
from pepbridge.api import services as credentials
from pepbridge.api.models import ApiKey
from pepbridge.backoffice.models import StaffAction
from pepbridge.backoffice.services import staff_action_record
from players.models import Player
from tests.admin.conftest import make_bonus, make_player_bonuses, make_players, outbox_rows

pytestmark = pytest.mark.django_db
Kind = StaffAction.Kind
STAFF_ACTIONS = reverse("admin:pepbridge_staffaction_changelist")
EXPORT = reverse("admin:pepbridge_staffaction_export")
PLAYER_BONUSES = reverse("admin:bonuses_playerbonus_changelist")


def changelist(model: type) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def act(client, model: type, action: str, rows: list, **extra: str):
    data = {"action": action, "_selected_action": [str(row.pk) for row in rows], **extra}
    return client.post(changelist(model), data)


def history(model: type, pk: object) -> str:
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_history", args=[pk])


# --- Cancel and forfeit: a confirmation page, a reason, an actor ------------------------------


@pytest.mark.parametrize(
    ("action", "status", "kind"),
    [
        ("cancel_selected", "cancelled", Kind.CANCEL_PLAYER_BONUS),
        ("forfeit_selected", "forfeited", Kind.FORFEIT_PLAYER_BONUS),
    ],
)
def test_ending_a_bonus_asks_why_then_records_who_and_why(
    staff_client, action: str, status: str, kind: str
) -> None:
    client = staff_client("Bonus managers")
    (row,) = make_player_bonuses(1)

    page = act(client, PlayerBonus, action, [row])
    assert page.status_code == 200
    assert 'name="reason"' in page.content.decode()
    assert 'name="csrfmiddlewaretoken"' in page.content.decode()
    blank = act(client, PlayerBonus, action, [row], confirm="yes", reason="  ")
    assert "This field is required." in blank.content.decode()
    assert PlayerBonus.objects.get(pk=row.pk).status == "granted"
    assert not StaffAction.objects.exists()

    act(client, PlayerBonus, action, [row], confirm="yes", reason="player asked, ticket 42")
    assert PlayerBonus.objects.get(pk=row.pk).status == status
    record = StaffAction.objects.get()
    assert (record.username, record.action, record.object_ids, record.reason) == (
        "bonus-managers",
        kind,
        [str(row.pk)],
        "player asked, ticket 42",
    )
    assert "player asked, ticket 42" in client.get(history(PlayerBonus, row.pk)).content.decode()


def test_the_service_refuses_a_risky_action_without_a_reason(staff_client) -> None:
    (row,) = make_player_bonuses(1)
    user = staff_client("Admins").get("/").wsgi_request.user  # any staff user
    with pytest.raises(ValidationError):
        staff_action_record(user=user, action=Kind.CANCEL_PLAYER_BONUS, objects=[row])


# --- Every other action records its actor -------------------------------------------------


def test_a_bulk_replay_asks_why_a_single_one_does_not(support) -> None:
    rows = outbox_rows(2)
    page = act(support, OutboxMessage, "replay_selected", rows)
    assert 'name="reason"' in page.content.decode()
    assert OutboxMessage.objects.filter(status="failed").count() == 2
    act(support, OutboxMessage, "replay_selected", rows[:1])
    record = StaffAction.objects.get()
    assert (record.username, record.action, record.object_ids) == (
        "support",
        Kind.REPLAY,
        [str(rows[0].pk)],
    )
    entry = LogEntry.objects.get(object_id=str(rows[0].pk))
    assert entry.user.username == "support"


@pytest.mark.parametrize(
    ("group", "setup", "action", "kind", "extra"),
    [
        (
            "Support",
            lambda: (OutboxMessage, outbox_rows(1, status="pending")),
            "send_selected_now",
            Kind.SEND_NOW,
            {},
        ),
        ("Support", lambda: (Player, make_players(1)), "resync_selected", Kind.PLAYER_RESYNC, {}),
        (
            "Support",
            lambda: (Player, make_players(1)),
            "resync_reconciliation",
            Kind.RECONCILIATION_RESYNC,
            {},
        ),
        (
            "Admins",
            lambda: (type(make_bonus()), [make_bonus("B-2")]),
            "retire_selected",
            Kind.BONUS_RETIRE,
            {},
        ),
        (
            "Admins",
            lambda: (type(make_bonus()), [make_bonus("B-2")]),
            "push_selected",
            Kind.BONUS_PUSH,
            {},
        ),
    ],
)
def test_each_action_records_its_actor(staff_client, group, setup, action, kind, extra) -> None:
    client = staff_client(group)
    model, rows = setup()
    with mock.patch("reconciliation.services.queue_task"):
        act(client, model, action, rows, **extra)
    record = StaffAction.objects.get()
    assert (record.username, record.action) == (group.lower().replace(" ", "-"), kind)
    assert record.object_ids == [str(rows[0].pk)]
    assert LogEntry.objects.filter(object_id=str(rows[0].pk), user__username=record.username)


def test_credential_actions_record_their_actor_and_never_a_secret(staff_client) -> None:
    admin_client = staff_client("Admins")
    answer = admin_client.post(
        reverse("admin:oauth2_provider_application_add"), {"name": "PEP", "scope": "pep"}
    )
    secret = answer.context["issued"].secret
    app = get_application_model().objects.get()
    Application = type(app)
    act(admin_client, Application, "disable", [app], confirm="yes", reason="leaked")
    act(admin_client, Application, "enable", [app])
    act(admin_client, Application, "revoke_tokens", [app])
    key = ApiKey.objects.get(key_id=credentials.api_key_create(name="ops").key_id)
    act(admin_client, ApiKey, "revoke", [key], confirm="yes", reason="rotated")
    kinds = list(StaffAction.objects.order_by("id").values_list("action", "reason"))
    assert kinds == [
        (Kind.CREDENTIAL_CREATE, ""),
        (Kind.CLIENT_DISABLE, "leaked"),
        (Kind.CLIENT_ENABLE, ""),
        (Kind.CLIENT_REVOKE_TOKENS, ""),
        (Kind.API_KEY_REVOKE, "rotated"),
    ]
    for record in StaffAction.objects.all():
        assert secret not in f"{record.outcome} {record.object_ids}"
    assert not LogEntry.objects.filter(change_message__contains=secret).exists()


# --- The list compliance reads --------------------------------------------------------------


def test_compliance_filters_the_staff_actions_and_exports_them(staff_client) -> None:
    support = staff_client("Support")
    act(support, OutboxMessage, "replay_selected", outbox_rows(1))
    act(support, OutboxMessage, "send_selected_now", outbox_rows(1, status="pending"))
    compliance = staff_client("Compliance")

    listed = compliance.get(STAFF_ACTIONS, {"username": "support", "action__exact": "replay"})
    assert [r.action for r in listed.context["cl"].result_list] == [Kind.REPLAY]
    assert 'href="/admin/pepbridge/staffaction/export/?' in listed.content.decode()

    exported = compliance.get(EXPORT, {"action__exact": "send_now"})
    lines = b"".join(exported.streaming_content).decode().splitlines()
    assert lines[0].startswith("time_utc,user,action")
    assert len(lines) == 2 and ",support,send_now," in lines[1]


def test_the_list_is_append_only_and_a_bonus_manager_exports_only_their_own(
    staff_client,
) -> None:
    support = staff_client("Support")
    staff_action_record(
        user=get_user_model().objects.get(username="support"),
        action="send_now",
        objects=outbox_rows(1),
    )
    assert support.get(STAFF_ACTIONS).status_code == 200
    exported = staff_client("Bonus managers").get(EXPORT)
    assert exported.status_code == 200
    assert b"support" not in b"".join(exported.streaming_content)  # the header line only
    admins = staff_client("Admins")
    assert admins.get(STAFF_ACTIONS).status_code == 200
    assert admins.get(reverse("admin:pepbridge_staffaction_add")).status_code == 403


def test_a_reason_that_looks_like_a_formula_is_exported_as_text(staff_client) -> None:
    (row,) = make_player_bonuses(1)
    act(
        staff_client("Bonus managers"),
        PlayerBonus,
        "cancel_selected",
        [row],
        confirm="yes",
        reason="=HYPERLINK(1)",
    )
    exported = staff_client("Compliance").get(EXPORT)
    assert "'=HYPERLINK(1)" in b"".join(exported.streaming_content).decode()


# --- The admin's own forms and deletions --------------------------------------------------


def superuser_client() -> Client:
    """User management is for superusers only (the Admins group may only view users and groups)."""
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", password="pw"))
    return client


def test_form_saves_of_any_model_are_staff_actions_too() -> None:
    admins = superuser_client()
    group = Group.objects.create(name="Auditors")
    change = reverse("admin:auth_group_change", args=[group.pk])
    admins.post(change, {"name": "External auditors", "permissions": []})
    record = StaffAction.objects.get()
    assert (record.username, record.action, record.object_ids) == (
        "root",
        Kind.ADMIN_CHANGE,
        [str(group.pk)],
    )
    assert record.outcome == "External auditors: Changed Name."


def test_deleting_several_rows_is_one_staff_action_and_one_history_line_each() -> None:
    admins = superuser_client()
    doomed = [Group.objects.create(name=f"temp {n}") for n in range(2)]
    act(admins, Group, "delete_selected", doomed, post="yes")
    assert not Group.objects.filter(name__startswith="temp").exists()
    record = StaffAction.objects.get()
    assert (record.action, sorted(record.object_ids)) == (
        Kind.ADMIN_DELETE,
        sorted(str(g.pk) for g in doomed),
    )
    assert LogEntry.objects.filter(action_flag=DELETION).count() == 2  # Django's own, not doubled


def test_delete_selected_keeps_djangos_description_and_permission() -> None:
    with translation.override("de"):
        assert str(delete_selected.short_description) == str(
            django_delete_selected.short_description
        )
    assert delete_selected.allowed_permissions == django_delete_selected.allowed_permissions


def test_an_export_with_a_filter_the_list_does_not_offer_is_a_400(staff_client) -> None:
    compliance = staff_client("Compliance")
    assert compliance.get(EXPORT, {"at__gte": "not a date"}).status_code == 400
    assert compliance.get(EXPORT, {"user__password__startswith": "p"}).status_code == 400


def test_each_group_sees_its_own_actions_and_compliance_sees_everyones(staff_client) -> None:
    users = {
        group: staff_client(group)
        for group in ("Support", "Bonus managers", "Compliance", "Admins")
    }
    rows = outbox_rows(2)
    for group in ("Support", "Bonus managers"):
        user = get_user_model().objects.get(username=group.lower().replace(" ", "-"))
        staff_action_record(user=user, action="send_now", objects=rows)
    listed = {group: client.get(changelist(StaffAction)) for group, client in users.items()}
    assert all(page.status_code == 200 for page in listed.values())
    assert [r.username for r in listed["Bonus managers"].context["cl"].result_list] == [
        "bonus-managers"
    ]
    assert [r.username for r in listed["Support"].context["cl"].result_list] == ["support"]
    everyone = {r.username for r in listed["Compliance"].context["cl"].result_list}
    assert everyone == {"support", "bonus-managers"}
    assert {r.username for r in listed["Admins"].context["cl"].result_list} == everyone
