"""The demo that `bin/dev run` loads at every start: running it twice changes nothing (issue 13).

It used to move the demo players' registrationDate on each run, so every restart sent PEP three
profile PATCHes and changed the players.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.forms.models import model_to_dict
from django.test import Client

from bonuses.models import Bonus
from events.models import OutboxMessage, WebhookSubscription
from pepbridge.demo import (
    DEMO_PLAYERS,
    DEMO_STAFF,
    OPERATOR_SUBSCRIPTION,
    demo_setup,
    operator_secret,
)
from players.models import Player

# The demo runs on the embedded default (bin/dev run): the SQLite pass is where it matters.
pytestmark = [pytest.mark.sqlite_pass, pytest.mark.django_db]


@pytest.fixture
def debug(settings: Any, tmp_path: Path) -> Any:
    settings.DEBUG = True
    settings.VAR_DIR = tmp_path
    return settings


def _snapshot() -> dict[str, Any]:
    return {
        "outbox": list(OutboxMessage.objects.order_by("pk").values_list("pk", "body")),
        "players": [model_to_dict(p) for p in Player.objects.order_by("pk")],
        "bonuses": [model_to_dict(b) for b in Bonus.objects.order_by("pk")],
        "users": list(get_user_model().objects.order_by("pk").values()),
    }


def test_running_the_demo_twice_changes_nothing(debug: Any) -> None:
    first = demo_setup()
    after_first = _snapshot()
    assert sorted(p["player_id"] for p in after_first["players"]) == sorted(DEMO_PLAYERS)
    assert after_first["outbox"]

    second = demo_setup()
    assert _snapshot() == after_first  # no new message to PEP, no field moved
    assert second == first  # the same logins


def test_the_demo_refuses_to_run_without_debug(settings: Any, tmp_path: Path) -> None:
    settings.DEBUG = False
    settings.VAR_DIR = tmp_path
    with pytest.raises(CommandError, match="DEBUG is false"):
        call_command("demo_setup", stdout=io.StringIO())
    assert not Player.objects.exists()


def test_the_demo_has_one_login_per_staff_group_printed_by_the_command(debug: Any) -> None:
    out = io.StringIO()
    call_command("demo_setup", stdout=out)
    printed = out.getvalue()
    login = demo_setup()
    assert [s.role for s in login.staff] == ["support", "bonus manager", "compliance", "admin"]
    for staff, (_, _, group) in zip(login.staff, DEMO_STAFF, strict=True):
        assert f"{staff.username} / {staff.password}" in printed
        assert Client().login(username=staff.username, password=staff.password)
        user = get_user_model().objects.get(username=staff.username)
        assert user.is_staff and not user.is_superuser
        assert list(user.groups.values_list("name", flat=True)) == [group]
    assert f"admin / {login.admin_password}" in printed


def test_the_demo_subscribes_the_sandbox_operator_page_once(debug: Any) -> None:
    demo_setup()
    subscription = WebhookSubscription.objects.get(name=OPERATOR_SUBSCRIPTION)
    assert subscription.url.endswith("/_sandbox/operator") and subscription.event_types == []
    assert operator_secret() == subscription.secret  # kept for pep_sandbox to verify with
    demo_setup()
    assert WebhookSubscription.objects.get().secret == subscription.secret
