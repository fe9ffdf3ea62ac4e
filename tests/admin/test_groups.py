"""The staff groups made by the pepbridge.0003_staff_groups migration, and their rights."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as global_apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

pytestmark = pytest.mark.django_db
migration = importlib.import_module("pepbridge.migrations.0003_staff_groups")


def member(group: str):
    user = get_user_model().objects.create_user(group.replace(" ", "-"), is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return get_user_model().objects.get(pk=user.pk)  # fresh: no cached permissions


@pytest.mark.parametrize(
    ("group", "allowed", "denied"),
    [
        (
            "Support",
            [
                "players.view_player",
                "events.view_outboxmessage",
                "reconciliation.view_auditstep",
                "pepbridge.replay_outboxmessage",
                "pepbridge.resync_player",
                "pepbridge.view_personal_data",
            ],
            ["bonuses.change_bonus", "reconciliation.export_audit", "api.view_apikey"],
        ),
        (
            "Bonus managers",
            ["bonuses.add_bonus", "bonuses.change_bonus", "bonuses.view_bonusassignment"],
            [
                "bonuses.delete_bonus",
                "pepbridge.replay_outboxmessage",
                "pepbridge.view_personal_data",
                "reconciliation.view_auditstep",
            ],
        ),
        (
            "Compliance",
            ["reconciliation.view_auditstep", "reconciliation.export_audit", "players.view_player"],
            ["pepbridge.view_personal_data", "pepbridge.resync_player", "bonuses.change_bonus"],
        ),
        (
            "Admins",
            [
                "api.add_apikey",
                "api.view_apikey",
                "pepbridge.replay_outboxmessage",
                "auth.view_user",
                "auth.view_group",
            ],
            # Changing a user is granting superuser (pepbridge.0004): superusers only.
            ["auth.add_user", "auth.change_user", "auth.change_group", "auth.change_permission"],
        ),
    ],
)
def test_each_group_has_what_it_needs_and_no_more(group, allowed, denied) -> None:
    user = member(group)
    assert [perm for perm in allowed if not user.has_perm(perm)] == []
    assert [perm for perm in denied if user.has_perm(perm)] == []


def test_the_migration_reverses_by_removing_the_groups() -> None:
    migration.delete_groups(global_apps, None)
    assert not Group.objects.filter(name__in=list(migration.GROUPS)).exists()
    migration.create_groups(global_apps, None)
    assert Group.objects.filter(name__in=list(migration.GROUPS)).count() == 4


def test_the_admins_narrowing_reverses() -> None:
    narrowing = importlib.import_module("pepbridge.migrations.0006_admins_without_user_management")
    narrowing.widen(global_apps, None)
    assert member("Admins").has_perm("auth.change_user")
    narrowing.narrow(global_apps, None)
    assert not get_user_model().objects.get(username="Admins").has_perm("auth.change_user")
