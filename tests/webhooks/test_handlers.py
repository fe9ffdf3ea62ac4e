"""Processing: snapshots never go back in time, purchases are granted once, the rest is kept."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext

from bonuses.models import Bonus, BonusAssignment, BonusType, PlayerBonus
from players.models import Player
from tests.webhooks.conftest import event, item, level_up, split_all
from webhooks import fulfilment
from webhooks.models import Fulfilment, InboxEvent, LoyaltySnapshot, ProductMapping, TokenBalance
from webhooks.processing import inbox_event_process, inbox_process_pending


@pytest.fixture
def bonus(db: None) -> Bonus:
    return Bonus.objects.create(
        bonus_id="SHOP-10",
        name="Shop 10",
        bonus_type=BonusType.CASH,
        amount=Decimal("10"),
        currency="EUR",
    )


@pytest.fixture
def player(db: None) -> Player:
    return Player.objects.create(player_id="p-1")


def purchase(product: str = "prod-1", purchase_id: str = "order-1", player: str = "p-1") -> dict:
    return event(
        "product_purchase",
        player,
        "2026-12-03T09:00:00Z",
        (
            item("ProductId", product),
            item("ProductName", "Ten euros"),
            item("PurchaseId", purchase_id),
        ),
    )


def wallet(balance: str, date: str, player: str = "p-1") -> dict:
    return event(
        "virtualCurrency_on_walletUpdate", player, date, (item("Balance", balance, "number"),)
    )


def process_all(post_events: Callable[..., Any], events: list[dict]) -> None:
    assert post_events(events).status_code == 202
    inbox_process_pending(max_seconds=30)


def test_a_level_up_sets_the_loyalty_snapshot(post_events: Any, player: Player) -> None:
    process_all(post_events, [level_up(level=9)])

    snap = LoyaltySnapshot.objects.get(player_ref="p-1")
    assert (snap.level, snap.rank, snap.xp) == (9, "Gold", Decimal("900"))
    assert snap.player == player and snap.source_event == InboxEvent.objects.get()
    assert InboxEvent.objects.get().status == InboxEvent.Status.PROCESSED


def test_a_late_event_never_overwrites_a_newer_snapshot(post_events: Any) -> None:
    process_all(post_events, [level_up(level=12, date="2026-12-03T10:00:00Z")])
    process_all(post_events, [level_up(level=11, date="2026-12-03T09:00:00Z")])

    snap = LoyaltySnapshot.objects.get(player_ref="p-1")
    assert snap.level == 12 and snap.xp == Decimal("1200")


def test_a_rank_only_event_keeps_the_level_of_an_older_event(post_events: Any) -> None:
    rank_up = event(
        "rank_up", "p-1", "2026-12-03T10:00:00Z", (item("CurrentRankExternalName", "Platinum"),)
    )
    process_all(post_events, [rank_up])
    process_all(post_events, [level_up(level=11, date="2026-12-03T09:00:00Z")])

    snap = LoyaltySnapshot.objects.get(player_ref="p-1")
    assert (snap.level, snap.rank) == (11, "Platinum")


def test_a_wallet_event_sets_the_balance_and_a_late_one_does_not(post_events: Any) -> None:
    process_all(post_events, [wallet("50", "2026-12-03T10:00:00Z")])
    process_all(post_events, [wallet("20", "2026-12-03T09:00:00Z")])

    balance = TokenBalance.objects.get(player_ref="p-1")
    assert (balance.balance, balance.currency) == (Decimal("50"), "tokens")


def test_an_unknown_event_is_stored_and_shown_not_an_error(post_events: Any) -> None:
    process_all(post_events, [event("mission_complete", items=(item("Mission", "m-7"),))])

    stored = InboxEvent.objects.get()
    assert stored.status == InboxEvent.Status.STORED
    assert stored.raw["payload"][1] == {"key": "Mission", "type": "string", "value": "m-7"}


def test_a_mapped_purchase_grants_the_bonus_through_assign_bonus(
    post_events: Any, player: Player, bonus: Bonus
) -> None:
    ProductMapping.objects.create(pep_product_id="prod-1", bonus=bonus)
    process_all(post_events, [purchase()])

    record = Fulfilment.objects.get()
    assert record.status == Fulfilment.Status.DONE
    granted = PlayerBonus.objects.get()
    assert (granted.player, granted.bonus, granted.amount) == (player, bonus, Decimal("10"))
    assert record.player_bonus == granted
    assert BonusAssignment.objects.get().sender == fulfilment.SENDER


def test_a_purchase_sent_again_is_granted_once(
    post_events: Any, player: Player, bonus: Bonus
) -> None:
    ProductMapping.objects.create(pep_product_id="prod-1", bonus=bonus)
    process_all(post_events, [purchase()])
    copy = purchase() | {"eventDate": "2026-12-03T09:00:01Z"}  # same purchase id, new event
    process_all(post_events, [copy])

    assert InboxEvent.objects.count() == 2
    assert Fulfilment.objects.count() == 1 and PlayerBonus.objects.count() == 1


def test_an_unmapped_purchase_waits_and_is_fulfilled_once_mapped(
    post_events: Any, player: Player, bonus: Bonus, django_capture_on_commit_callbacks: Any
) -> None:
    process_all(post_events, [purchase()])
    assert Fulfilment.objects.get().status == Fulfilment.Status.PENDING
    assert not PlayerBonus.objects.exists()

    fulfilment.product_mapping_save(
        mapping=ProductMapping(pep_product_name="ten EUROS", bonus=bonus)
    )
    assert fulfilment.fulfilments_fulfil_mapped() == 1
    assert fulfilment.fulfilments_fulfil_mapped() == 0

    assert Fulfilment.objects.get().status == Fulfilment.Status.DONE
    assert PlayerBonus.objects.count() == 1


def test_a_purchase_refused_by_the_grant_limits_fails_with_the_reason(
    post_events: Any, player: Player, bonus: Bonus
) -> None:
    Bonus.objects.filter(pk=bonus.pk).update(daily_cap_per_player=Decimal("5"))
    ProductMapping.objects.create(pep_product_id="prod-1", bonus=bonus)
    process_all(post_events, [purchase()])

    record = Fulfilment.objects.get()
    assert record.status == Fulfilment.Status.FAILED and "daily" in record.reason.lower()
    assert not PlayerBonus.objects.exists()


def test_fulfil_now_never_grants_a_done_purchase_twice(
    post_events: Any, player: Player, bonus: Bonus
) -> None:
    ProductMapping.objects.create(pep_product_id="prod-1", bonus=bonus)
    process_all(post_events, [purchase()])
    record = Fulfilment.objects.get()

    fulfilment.fulfilments_fulfil(fulfilment_ids=[record.pk, record.pk])

    assert PlayerBonus.objects.count() == 1


def test_an_event_is_processed_once(post_events: Any, player: Player) -> None:
    post_events([level_up()])
    split_all()
    stored = InboxEvent.objects.get()

    assert inbox_event_process(event_id=stored.pk) == InboxEvent.Status.PROCESSED
    assert inbox_event_process(event_id=stored.pk) == InboxEvent.Status.PROCESSED
    stored.refresh_from_db()
    assert stored.attempts == 1


def test_a_handler_that_raises_marks_the_event_failed_and_undoes_its_writes(
    post_events: Any, monkeypatch: Any
) -> None:
    post_events([level_up(), wallet("5", "2026-12-03T09:00:00Z", player="p-2")])

    def boom(event: InboxEvent, items: Any) -> bool:
        TokenBalance.objects.create(player_ref="x", balance=1, as_of=event.event_date)
        raise RuntimeError("boom")

    monkeypatch.setattr("webhooks.handlers.wallet_update", boom)
    inbox_process_pending(max_seconds=30)

    statuses = dict(InboxEvent.objects.values_list("event_name", "status"))
    assert statuses == {"level_up": "processed", "virtualCurrency_on_walletUpdate": "failed"}
    assert not TokenBalance.objects.exists()


def test_values_beyond_the_columns_are_ignored_not_a_failure(post_events: Any) -> None:
    huge = event(
        "level_up",
        items=(
            item("CurrentLevel", "1e25", "number"),
            item("XpBalance", "123456789012345678901234", "number"),
            item("CurrentRankExternalName", "Gold"),
        ),
    )
    process_all(post_events, [huge, wallet("1e21", "2026-12-03T09:00:00Z")])

    snap = LoyaltySnapshot.objects.get()
    assert (snap.level, snap.xp, snap.rank) == (None, None, "Gold")
    assert not TokenBalance.objects.exists()
    assert not InboxEvent.objects.filter(status=InboxEvent.Status.FAILED).exists()


def test_a_number_sent_as_a_string_item_still_counts(post_events: Any) -> None:
    sent = event("level_up", items=(item("CurrentLevel", "7"), item("XpBalance", "oops")))
    process_all(post_events, [sent])

    snap = LoyaltySnapshot.objects.get()
    assert (snap.level, snap.xp) == (7, None)


def test_a_pass_does_not_spin_on_an_event_the_database_keeps_locked(
    post_events: Any, monkeypatch: Any
) -> None:
    post_events([level_up()])
    calls: list[int] = []

    def locked(event: InboxEvent) -> bool:
        calls.append(event.pk)
        raise OperationalError("database is locked")

    monkeypatch.setattr("webhooks.handlers.dispatch", locked)
    assert inbox_process_pending(max_seconds=5) == 1
    assert len(calls) == 1 and InboxEvent.objects.get().status == InboxEvent.Status.PENDING


def test_one_fulfilment_that_raises_does_not_stop_the_others(
    post_events: Any, player: Player, bonus: Bonus, monkeypatch: Any
) -> None:
    process_all(post_events, [purchase(purchase_id="o-1"), purchase(purchase_id="o-2")])
    ProductMapping.objects.create(pep_product_id="prod-1", bonus=bonus)
    first, second = Fulfilment.objects.order_by("pk")
    real = fulfilment._grant

    def flaky(record: Fulfilment, mapping: ProductMapping) -> None:
        if record.pk == first.pk:
            raise RuntimeError("boom")
        real(record, mapping)

    monkeypatch.setattr("webhooks.fulfilment._grant", flaky)
    counts = fulfilment.fulfilments_fulfil(fulfilment_ids=[first.pk, second.pk])

    assert counts == {"error": 1, "done": 1}
    first.refresh_from_db()
    assert first.status == Fulfilment.Status.PENDING and first.attempts == 0
    assert PlayerBonus.objects.count() == 1


def test_a_level_up_of_a_known_player_reads_two_rows_and_writes_two(
    post_events: Any, player: Player
) -> None:
    """The handlers' rate is their queries: the event and the snapshot, each read once with
    its lock, then one update each (the player is looked up only to create a snapshot)."""
    post_events([level_up(level=3, date="2026-12-03T09:00:00Z")])
    post_events([level_up(level=4, date="2026-12-03T10:00:00Z")])
    split_all()
    first, second = InboxEvent.objects.order_by("event_date")
    inbox_event_process(event_id=first.pk)

    with CaptureQueriesContext(connection) as queries:
        assert inbox_event_process(event_id=second.pk) == InboxEvent.Status.PROCESSED

    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    assert statements.count("SELECT") == 2 and statements.count("UPDATE") == 2
    assert LoyaltySnapshot.objects.get().level == 4
