"""Every filter the big lists offer narrows them and has an index; their query counts stay flat."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from django.contrib import admin
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from events.models import DeliveryAttempt, OutboxMessage, WebhookSubscription
from events.services.subscriptions import subscription_create
from pepbridge.api import services
from players.models import Player
from tests.admin.conftest import make_players, outbox_rows

pytestmark = pytest.mark.django_db
OUTBOX = reverse("admin:events_outboxmessage_changelist")
ATTEMPTS = reverse("admin:events_deliveryattempt_changelist")
PLAYERS = reverse("admin:players_player_changelist")


def ids_on_page(response) -> set[int]:
    assert response.status_code == 200
    return {row.pk for row in response.context["cl"].result_list}


def filter_parameters(model: type) -> set[str]:
    """The query parameter each list filter of the model's admin is driven by."""
    names = set()
    for spec in admin.site._registry[model].list_filter:
        if isinstance(spec, str):
            names.add(spec)
        elif isinstance(spec, tuple):
            names.add(spec[0])
        else:
            names.add(spec.parameter_name)
    return names


def midnight(days: int) -> str:
    """A bound as the admin's date filter links spell it: local midnight `days` from today."""
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    return str(today + timedelta(days=days))


def since(days: int) -> str:
    return quote(midnight(-days))


def tomorrow() -> str:
    return quote(midnight(1))


# --- Outbox -----------------------------------------------------------------------------------

OUTBOX_CASES: list[tuple[str, str, str]] = [
    # (filter parameter, query, the group of rows it must list)
    ("status", "status__exact=failed", "failed"),
    ("message_type", "message_type=money_transaction", "money"),
    ("last_error_class", "last_error_class=http_400", "failed"),
    ("last_error_class", "last_error_class=__any__", "failed"),
    ("trigger", "trigger__exact=replay", "replayed"),
    ("replayed", "replayed=yes", "replayed"),
    ("replayed", "replayed=no", "never replayed"),
    ("created_at", f"created_at__gte={since(7)}&created_at__lt={tomorrow()}", "recent"),
    ("subscription", "subscription=pep", "to pep"),
]


def subscription() -> WebhookSubscription:
    return subscription_create(name="crm", url="https://crm.test/h", event_types=[]).subscription


def outbox_groups() -> dict[str, list[OutboxMessage]]:
    old = timezone.now() - timedelta(days=40)
    groups = {
        "failed": outbox_rows(2, status="failed"),
        "money": outbox_rows(1, status="pending", message_type="money_transaction"),
        "replayed": outbox_rows(
            1, status="pending", player="p-2", trigger="replay", replayed_at=timezone.now()
        ),
        "old": outbox_rows(2, status="delivered", player="p-3", created_at=old),
        "forwarded": outbox_rows(1, status="pending", player="p-4", subscription=subscription()),
    }
    groups["to pep"] = groups["failed"] + groups["money"] + groups["replayed"] + groups["old"]
    groups["recent"] = groups["failed"] + groups["money"] + groups["replayed"]
    groups["recent"] += groups["forwarded"]
    groups["never replayed"] = groups["failed"] + groups["money"] + groups["old"]
    groups["never replayed"] += groups["forwarded"]
    return groups


@pytest.mark.parametrize(("name", "query", "expected"), OUTBOX_CASES)
def test_each_outbox_filter_narrows_the_list(support, name: str, query: str, expected: str):
    groups = outbox_groups()
    assert ids_on_page(support.get(f"{OUTBOX}?{query}")) == {row.pk for row in groups[expected]}


def test_every_outbox_filter_is_tested() -> None:
    assert filter_parameters(OutboxMessage) == {name for name, _, _ in OUTBOX_CASES}


# --- Delivery attempts ------------------------------------------------------------------------

ATTEMPT_CASES: list[tuple[str, str, str]] = [
    ("outcome", "outcome__exact=failed", "failed"),
    ("outcome", "outcome__exact=retry", "retry"),
    ("started_at", f"started_at__gte={since(0)}&started_at__lt={tomorrow()}", "today"),
]


def attempt_groups() -> dict[str, list[int]]:
    def attempts(rows: list[OutboxMessage]) -> list[int]:
        ids = DeliveryAttempt.objects.filter(message__in=rows).values_list("id", flat=True)
        return list(ids)

    failed = attempts(outbox_rows(2, status="failed"))
    retry = attempts(outbox_rows(1, status="pending", player="p-2"))
    delivered = attempts(outbox_rows(1, status="delivered", player="p-3"))
    old = timezone.now() - timedelta(days=3)
    DeliveryAttempt.objects.filter(id__in=delivered).update(started_at=old)
    return {"failed": failed, "retry": retry, "today": failed + retry}


@pytest.mark.parametrize(("name", "query", "expected"), ATTEMPT_CASES)
def test_each_attempt_filter_narrows_the_list(support, name: str, query: str, expected: str):
    groups = attempt_groups()
    assert ids_on_page(support.get(f"{ATTEMPTS}?{query}")) == set(groups[expected])


def test_every_attempt_filter_is_tested() -> None:
    assert filter_parameters(DeliveryAttempt) == {name for name, _, _ in ATTEMPT_CASES}


# --- Players ----------------------------------------------------------------------------------

PLAYER_CASES: list[tuple[str, str, str]] = [
    ("account_status", "account_status__exact=blocked", "blocked"),
    ("self_excluded", "self_excluded__exact=1", "self_excluded"),
    ("at_risk", "at_risk__exact=1", "at_risk"),
    ("erased", "erased=yes", "erased"),
    ("erased", "erased=no", "not_erased"),
]


def player_groups() -> dict[str, list[int]]:
    players = [player.pk for player in make_players(5)]
    Player.objects.filter(pk=players[0]).update(account_status="blocked")
    Player.objects.filter(pk=players[1]).update(self_excluded=True)
    Player.objects.filter(pk=players[2]).update(at_risk=True)
    Player.objects.filter(pk=players[3]).update(erased_at=timezone.now())
    return {
        "blocked": [players[0]],
        "self_excluded": [players[1]],
        "at_risk": [players[2]],
        "erased": [players[3]],
        "not_erased": [pk for pk in players if pk != players[3]],
    }


@pytest.mark.parametrize(("name", "query", "expected"), PLAYER_CASES)
def test_each_player_filter_narrows_the_list(support, name: str, query: str, expected: str):
    groups = player_groups()
    assert ids_on_page(support.get(f"{PLAYERS}?{query}")) == set(groups[expected])


def test_every_player_filter_is_tested() -> None:
    assert filter_parameters(Player) == {name for name, _, _ in PLAYER_CASES}


# --- Indexes ----------------------------------------------------------------------------------

# filter -> the index serving it and the columns it must start with (docs/back-office.md).
FILTER_INDEXES: dict[tuple[type, str], tuple[str, list[str]]] = {
    (OutboxMessage, "status"): ("outbox_status_created_idx", ["status", "created_at"]),
    (OutboxMessage, "message_type"): ("outbox_type_created_idx", ["message_type", "created_at"]),
    (OutboxMessage, "last_error_class"): (
        "outbox_failed_error_idx",
        ["status", "last_error_class"],  # the filter adds `status IN (every status)`
    ),
    (OutboxMessage, "trigger"): ("outbox_trigger_created_idx", ["trigger", "created_at"]),
    (OutboxMessage, "created_at"): ("outbox_created_idx", ["created_at"]),
    (OutboxMessage, "replayed"): ("outbox_replayed_idx", ["replayed_at"]),
    (OutboxMessage, "subscription"): ("outbox_subscription_idx", ["subscription_id", "created_at"]),
    (DeliveryAttempt, "outcome"): ("attempt_outcome_started_idx", ["outcome", "started_at"]),
    (DeliveryAttempt, "started_at"): ("attempt_started_idx", ["started_at"]),
    (Player, "account_status"): ("player_account_status_idx", ["account_status", "id"]),
    (Player, "self_excluded"): ("player_self_excluded_idx", ["self_excluded", "id"]),
    (Player, "at_risk"): ("player_at_risk_idx", ["at_risk", "id"]),
    (Player, "erased"): ("player_erased_at_idx", ["erased_at"]),
}


@pytest.mark.parametrize("model", [OutboxMessage, DeliveryAttempt, Player])
def test_every_offered_filter_has_an_index(model: type) -> None:
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, model._meta.db_table)
    for name in filter_parameters(model):
        index, columns = FILTER_INDEXES[(model, name)]
        assert index in found, f"{model.__name__}.{name}: no {index}"
        assert found[index]["columns"][: len(columns)] == columns, index


# --- Query counts -----------------------------------------------------------------------------


def add_clients(count: int) -> None:
    for index in range(count):
        issued = services.oauth_client_create(name=f"client {index}")
        form = {
            "grant_type": "client_credentials",
            "client_id": issued.client_id,
            "client_secret": issued.client_secret,
        }
        assert Client().post("/oauth/token", form).status_code == 200


def add_keys(count: int) -> None:
    for index in range(count):
        services.api_key_create(name=f"key {index}")


def add_players(count: int) -> None:
    make_players(count, prefix=f"p{Player.objects.count()}")


LISTS: list[tuple[str, str, Callable[[int], Any]]] = [
    ("Support", OUTBOX, outbox_rows),
    ("Support", ATTEMPTS, outbox_rows),
    ("Support", PLAYERS, add_players),
    ("Compliance", PLAYERS, add_players),
    ("Admins", reverse("admin:oauth2_provider_application_changelist"), add_clients),
    ("Admins", reverse("admin:oauth2_provider_accesstoken_changelist"), add_clients),
    ("Admins", reverse("admin:api_apikey_changelist"), add_keys),
]


@pytest.mark.parametrize(("group", "url", "add_rows"), LISTS)
def test_a_lists_query_count_does_not_grow_with_its_rows(
    staff_client, django_assert_max_num_queries, group: str, url: str, add_rows
) -> None:
    client = staff_client(group)
    add_rows(2)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    queries = len(few)  # now: the log it reads from is cleared by the next request
    add_rows(25)
    with django_assert_max_num_queries(queries):
        response = client.get(url)
    assert len(response.context["cl"].result_list) == 27
