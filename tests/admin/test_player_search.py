"""Support finds a player by the start of an e-mail or username, in any case (issue 13)."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.db import connection
from django.test import RequestFactory
from django.urls import reverse

from players.models import Player
from tests.admin.conftest import make_players

pytestmark = pytest.mark.django_db
LIST = reverse("admin:players_player_changelist")


def found(client, term: str) -> list[str]:
    response = client.get(LIST, {"q": term})
    return [player.player_id for player in response.context["cl"].result_list]


@pytest.fixture
def lena() -> None:
    make_players(2)
    Player.objects.create(
        player_id="p-lena", username="LenaM", email="lena.muster@example.com", country="CH"
    )


@pytest.mark.parametrize(
    "term", ["LENA.MUSTER@example.com", "lena.mus", "  Lena.Muster@EXAMPLE.com ", "lenam"]
)
def test_support_finds_a_player_by_a_partial_e_mail_or_username_in_any_case(
    support, lena, term: str
) -> None:
    assert found(support, term) == ["p-lena"]


def test_a_search_matches_from_the_start_only_and_player_ids_exactly(support, lena) -> None:
    assert found(support, "muster") == []
    assert found(support, "p-len") == []
    assert found(support, "p-lena") == ["p-lena"]


def test_staff_without_personal_data_access_cannot_search_by_e_mail(staff_client, lena) -> None:
    for group in ("Compliance", "Bonus managers"):
        client = staff_client(group)
        assert found(client, "lena.mus") == []
        assert found(client, "p-lena") == ["p-lena"]


@pytest.mark.postgres
def test_the_prefix_search_uses_its_index_on_postgresql(lena, admin_user) -> None:
    request = RequestFactory().get(LIST)
    request.user = admin_user
    searched, _ = admin.site._registry[Player].get_search_results(
        request, Player.objects.only("id"), "lena.mus"
    )
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a 3-row table: force the choice
        plan = searched.explain()
    assert "player_email_lower_prefix" in plan
