"""Pages name things as staff know them: credentials, bonuses, free spins, tags (issue 13)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from bonuses.models import BonusAssignment, BonusType, PlayerBonus
from pepbridge.api.services import api_key_create, oauth_client_create
from players.models import Player
from tests.admin.conftest import make_assignments, make_bonus, make_rejections

pytestmark = pytest.mark.django_db


def test_assignment_lists_name_the_credential_not_its_raw_key(support) -> None:
    client = oauth_client_create(name="PEP production")
    key = api_key_create(name="PEP staging")
    first, second = make_assignments(2)
    BonusAssignment.objects.filter(pk=first.pk).update(client_key=f"oauth:{client.client_id}")
    BonusAssignment.objects.filter(pk=second.pk).update(client_key=f"apikey:{key.key_id}")
    page = support.get(reverse("admin:bonuses_bonusassignment_changelist")).content.decode()
    assert f'title="oauth:{client.client_id}">PEP production<' in page
    assert f'title="apikey:{key.key_id}">PEP staging<' in page
    detail = reverse("admin:bonuses_bonusassignment_change", args=[first.pk])
    assert ">PEP production<" in support.get(detail).content.decode()
    make_rejections(1)  # client_key "pep": no such credential, shown as it is
    page = support.get(reverse("admin:bonuses_rejectedassignment_changelist")).content.decode()
    assert '<td class="field-caller">pep</td>' in page


def test_a_player_page_reads_bonuses_spins_and_tags_as_staff_say_them(support) -> None:
    player = Player.objects.create(player_id="demo-1001", country="CH", tags=["vip", "sports"])
    cash = make_bonus("CASH10", amount=Decimal("10"), currency="EUR")
    spins = make_bonus(
        "SPINS20", bonus_type=BonusType.FREE_SPINS, amount=Decimal("20"), currency=""
    )
    granted = datetime(2026, 1, 15, 18, 33, 9, tzinfo=UTC)
    PlayerBonus.objects.create(
        player=player, bonus=cash, amount=Decimal("10.0000"), currency="EUR", granted_at=granted
    )
    PlayerBonus.objects.create(
        player=player, bonus=spins, amount=Decimal("20.0000"), granted_at=granted
    )
    page = support.get(reverse("admin:players_player_change", args=[player.pk])).content.decode()
    assert "CASH10 — 10 EUR, granted 2026-01-15 18:33:09 UTC" in page
    assert "SPINS20 — 20 free spins, granted" in page
    assert "20.0000" not in page and "for player" not in page
    assert ">vip</span>" in page and ">sports</span>" in page
    assert "[&quot;vip&quot;" not in page and '["vip"' not in page


def test_the_player_bonus_list_shows_codes_and_values(support) -> None:
    player = Player.objects.create(player_id="demo-1001", country="CH")
    spins = make_bonus(
        "SPINS20", bonus_type=BonusType.FREE_SPINS, amount=Decimal("20"), currency=""
    )
    PlayerBonus.objects.create(player=player, bonus=spins, amount=Decimal("20.0000"))
    page = support.get(reverse("admin:bonuses_playerbonus_changelist")).content.decode()
    assert ">20 free spins<" in page and ">demo-1001<" in page and ">SPINS20<" in page


def test_a_player_page_leads_with_what_support_looks_up_and_folds_personal_data(support) -> None:
    player = Player.objects.create(player_id="demo-1001", country="CH", email="a@example.com")
    page = support.get(reverse("admin:players_player_change", args=[player.pk])).content.decode()
    order = ["Status", "Bonuses", "Messages to PEP", "Reconciliation", "Profile", "Personal data"]
    positions = [page.index(f'class="fieldset-heading">{title}</h2>') for title in order]
    assert positions == sorted(positions)
    personal = page[page.rindex("<details", 0, positions[-1]) : positions[-1]]
    assert "open" not in personal  # folded until asked for
