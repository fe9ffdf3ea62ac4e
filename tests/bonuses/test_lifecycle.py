"""A player's bonus after the grant: the expiry sweep, its task and schedule, bulk staff moves."""

from __future__ import annotations

import importlib
from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps as global_apps
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.utils import timezone
from django_q.models import Schedule

from bonuses import services, tasks
from bonuses.models import PlayerBonus
from events.models import OutboxMessage

pytestmark = pytest.mark.django_db
Status = PlayerBonus.Status
migration = importlib.import_module("bonuses.migrations.0004_player_bonus_expiry_and_actions")


@pytest.fixture
def holding(make_bonus, make_player):
    """Make a player bonus with the given status and expiry (hours from now; None: never)."""
    bonus, player = make_bonus(), make_player("p-1")

    def make(status: str = "granted", hours: float | None = -1, **fields: Any) -> PlayerBonus:
        expires = None if hours is None else timezone.now() + timedelta(hours=hours)
        return PlayerBonus.objects.create(
            player=player, bonus=bonus, status=status, expires_at=expires, **fields
        )

    return make


def _statuses(*rows: PlayerBonus) -> list[str]:
    return [PlayerBonus.objects.get(pk=row.pk).status for row in rows]


def test_it_expires_only_granted_or_active_bonuses_past_their_expiry(holding) -> None:
    due = [holding("granted"), holding("active")]
    not_yet = holding("granted", hours=1)
    never = holding("granted", hours=None)
    ended = [holding(status) for status in ("wagered", "completed", "forfeited", "cancelled")]

    assert services.player_bonus_expire_due() == 2

    assert _statuses(*due) == ["expired", "expired"]
    assert _statuses(not_yet, never) == ["granted", "granted"]
    assert _statuses(*ended) == ["wagered", "completed", "forfeited", "cancelled"]


def test_it_stamps_when_the_status_changed(holding) -> None:
    stale = timezone.now() - timedelta(days=3)
    row = holding("granted", status_changed_at=stale)
    services.player_bonus_expire_due()
    row.refresh_from_db()
    assert row.status_changed_at > stale


def test_a_second_run_changes_nothing(holding) -> None:
    row = holding("granted")
    assert services.player_bonus_expire_due() == 1
    changed_at = PlayerBonus.objects.get(pk=row.pk).status_changed_at
    assert services.player_bonus_expire_due() == 0
    assert PlayerBonus.objects.get(pk=row.pk).status_changed_at == changed_at


def test_it_works_through_every_due_bonus_in_batches(holding) -> None:
    rows = [holding("granted", hours=-n - 1) for n in range(7)]
    assert services.player_bonus_expire_due(batch_size=3) == 7
    assert set(_statuses(*rows)) == {"expired"}


def test_it_stops_after_max_batches_and_the_next_run_goes_on(holding) -> None:
    for n in range(5):
        holding("granted", hours=-n - 1)
    assert services.player_bonus_expire_due(batch_size=2, max_batches=2) == 4
    assert services.player_bonus_expire_due(batch_size=2, max_batches=2) == 1


def test_it_tells_pep_nothing_because_the_contract_has_no_message_for_it(holding) -> None:
    holding("granted")
    services.player_bonus_expire_due()
    assert not OutboxMessage.objects.exists()


def test_the_expiry_query_is_served_by_its_index(holding) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("reads SQLite's query plan")
    holding("granted")
    due = PlayerBonus.objects.filter(
        status__in=services.lifecycle.EXPIRABLE, expires_at__lte=timezone.now()
    )
    assert "playerbonus_expiry_due" in due.order_by("expires_at").explain()


def test_the_task_runs_the_expiry(holding) -> None:
    row = holding("active")
    assert tasks.player_bonus_expire_task() == 1
    assert _statuses(row) == ["expired"]


def test_the_migration_schedules_the_expiry_every_five_minutes() -> None:
    schedule = Schedule.objects.get(name="bonuses: player bonus expiry")
    assert schedule.func == "bonuses.tasks.player_bonus_expire_task"
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == ("I", 5, -1)


def test_the_migration_reverses_and_applies_again() -> None:
    migration.revoke_permission(global_apps, None)
    migration.remove_schedule(global_apps, None)
    assert not Schedule.objects.filter(name=migration.SCHEDULE).exists()
    assert not Permission.objects.filter(codename="manage_playerbonus").exists()
    migration.add_schedule(global_apps, None)
    migration.grant_permission(global_apps, None)
    assert Schedule.objects.filter(name=migration.SCHEDULE).count() == 1
    assert Permission.objects.filter(codename="manage_playerbonus").count() == 1


@pytest.mark.parametrize(
    ("group", "may"),
    [("Bonus managers", True), ("Admins", True), ("Support", False), ("Compliance", False)],
)
def test_the_migration_lets_bonus_managers_and_admins_end_bonuses(group: str, may: bool) -> None:
    codenames = Group.objects.get(name=group).permissions.values_list("codename", flat=True)
    assert ("manage_playerbonus" in codenames) is may


def test_a_bulk_move_counts_what_changed_and_what_the_lifecycle_refused(holding) -> None:
    rows = [holding("granted"), holding("active"), holding("completed"), holding("cancelled")]
    report = services.player_bonuses_transition(player_bonuses=rows, status="cancelled")
    assert (report.changed, report.refused) == (2, 2)
    assert _statuses(*rows) == ["cancelled", "cancelled", "completed", "cancelled"]


def test_a_bulk_move_refuses_a_bonus_that_changed_since_it_was_read(holding) -> None:
    row = holding("granted")
    PlayerBonus.objects.filter(pk=row.pk).update(status="expired")  # the sweep got there first
    report = services.player_bonuses_transition(player_bonuses=[row], status="forfeited")
    assert (report.changed, report.refused) == (0, 1)
    assert _statuses(row) == ["expired"]
