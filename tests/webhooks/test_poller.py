"""The rewards poller: off by default, a persisted cursor, the rate budget, and one fulfilment
for a reward seen by both the webhook and the poller."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses as responses_lib
from django.contrib.auth.models import Group
from django.utils import timezone

from bonuses.models import Bonus, BonusType, PlayerBonus
from pepbridge.pep.client import PepClient
from players.models import Player
from tests.webhooks.conftest import event, item
from webhooks import poller
from webhooks.models import Fulfilment, InboxEvent, ProductMapping, RewardsCursor, WebhookDelivery
from webhooks.processing import inbox_process_pending
from webhooks.tasks import rewards_poll_task

BASE = "https://pep.test"
REWARDS_URL = f"{BASE}/api/data-fetch/v1/reward-processor/rewards"

pytestmark = pytest.mark.django_db


@pytest.fixture
def pep(monkeypatch: pytest.MonkeyPatch, settings: Any) -> Iterator[responses_lib.RequestsMock]:
    """PEP's token and rewards endpoints (`responses`), the poller on, one poll per run."""
    settings.PEP_REWARDS_POLL_SECONDS = 60
    client = PepClient(base_url=BASE, client_id="id", client_secret="secret", attempts=1)
    client.sleep = lambda seconds: None
    monkeypatch.setattr(poller, "get_pep_client", lambda: client)
    with responses_lib.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(f"{BASE}/api/oauth/v1/token", json={"accessToken": "tok", "expiresIn": 3600})
        yield mock


@pytest.fixture
def mapped(db: None) -> Bonus:
    """Player p-1 and the bonus offer "offer-7" mapped to a catalogue bonus."""
    Player.objects.create(player_id="p-1")
    bonus = Bonus.objects.create(
        bonus_id="OFFER-7", name="Offer 7", bonus_type=BonusType.CASH, amount=5, currency="EUR"
    )
    ProductMapping.objects.create(pep_product_id="offer-7", bonus=bonus)
    return bonus


def reward(reward_id: str = "r-1", kind: str = "bonus_offer", **extra: Any) -> dict[str, Any]:
    return {
        "id": reward_id,
        "type": kind,
        "playerId": "p-1",
        "bonusOfferId": "offer-7",
        "name": "Five euros",
        "createdAt": "2026-12-03T09:00:00Z",
        **extra,
    }


def rewards_calls(pep: responses_lib.RequestsMock) -> list[dict[str, list[str]]]:
    return [
        parse_qs(urlsplit(c.request.url).query) for c in pep.calls if "rewards" in c.request.url
    ]


def poll_and_process() -> poller.PollResult:
    result = poller.rewards_poll()
    inbox_process_pending(max_seconds=30)
    return result


def test_the_poller_is_off_by_default(settings: Any) -> None:
    settings.PEP_REWARDS_POLL_SECONDS = 0
    with responses_lib.RequestsMock(assert_all_requests_are_fired=False) as mock:
        assert rewards_poll_task() == 0
        assert len(mock.calls) == 0
    assert not RewardsCursor.objects.exists()


def test_a_polled_bonus_offer_is_granted_and_the_cursor_advances(
    pep: responses_lib.RequestsMock, mapped: Bonus
) -> None:
    pep.get(REWARDS_URL, json={"data": [reward()]})

    result = poll_and_process()

    assert (result.requests, result.stored) == (1, 1)
    record = Fulfilment.objects.get()
    assert record.status == Fulfilment.Status.DONE
    assert PlayerBonus.objects.get().amount == Decimal("5")
    (query,) = rewards_calls(pep)
    assert query["limit"] == ["1000"] and query["delta"]
    cursor = RewardsCursor.objects.get()
    assert cursor.delta and cursor.last_success_at is not None and cursor.rewards_seen == 1
    assert WebhookDelivery.objects.get().signed_form == WebhookDelivery.SignedForm.POLL


def test_the_next_poll_sends_the_persisted_delta(pep: responses_lib.RequestsMock) -> None:
    pep.get(REWARDS_URL, json={"data": [], "delta": "opaque-delta-42"})
    poller.rewards_poll()
    poller.rewards_poll()

    first, second = rewards_calls(pep)
    assert first["delta"][0].endswith("Z")  # the first poll starts from now, not the beginning
    assert second["delta"] == ["opaque-delta-42"]
    assert RewardsCursor.objects.get().delta == "opaque-delta-42"


def test_a_reward_seen_by_webhook_and_poller_is_fulfilled_once(
    pep: responses_lib.RequestsMock, mapped: Bonus, post_events: Any
) -> None:
    purchase = event(
        "product_purchase",
        "p-1",
        items=(item("ProductId", "offer-7"), item("PurchaseId", "order-9")),
    )
    assert post_events([purchase]).status_code == 202
    inbox_process_pending(max_seconds=30)
    pep.get(REWARDS_URL, json={"data": [reward(orderId="order-9")]})

    poll_and_process()

    assert InboxEvent.objects.count() == 2
    assert Fulfilment.objects.count() == 1 and PlayerBonus.objects.count() == 1


def test_a_reward_polled_twice_is_stored_and_granted_once(
    pep: responses_lib.RequestsMock, mapped: Bonus
) -> None:
    pep.get(REWARDS_URL, json={"data": [reward()]})
    poll_and_process()
    second = poll_and_process()

    assert second.stored == 0
    assert InboxEvent.objects.count() == 1 and PlayerBonus.objects.count() == 1


def test_other_rewards_and_unusable_ones_are_skipped(pep: responses_lib.RequestsMock) -> None:
    pep.get(
        REWARDS_URL,
        json={
            "items": [reward("r-1", "tokens"), reward("r-2", playerId=""), "junk", reward("r-3")]
        },
    )

    result = poller.rewards_poll()

    assert (result.rewards, result.stored, result.skipped) == (3, 1, 2)
    assert InboxEvent.objects.get().event_name == "reward_bonus_offer"


def test_pages_are_followed_with_next(pep: responses_lib.RequestsMock) -> None:
    pep.get(REWARDS_URL, json={"data": [reward("r-1")], "next": "page-2"})
    pep.get(REWARDS_URL, json={"data": [reward("r-2")]})

    result = poller.rewards_poll()

    assert result.stored == 2
    assert rewards_calls(pep)[1]["next"] == ["page-2"]
    assert RewardsCursor.objects.get().next_page == ""


def test_a_pep_failure_keeps_the_cursor_and_is_recorded(pep: responses_lib.RequestsMock) -> None:
    RewardsCursor.objects.create(delta="2026-12-01T00:00:00Z")
    pep.get(REWARDS_URL, status=503)

    result = poller.rewards_poll()

    assert result.stopped == "PEP error" and result.requests == 1
    cursor = RewardsCursor.objects.get()
    assert cursor.delta == "2026-12-01T00:00:00Z" and "503" in cursor.last_error
    assert cursor.lease_until is None


def test_requests_stay_within_the_per_minute_budget(
    pep: responses_lib.RequestsMock, settings: Any
) -> None:
    settings.PEP_REWARDS_POLL_PER_MINUTE = 3
    pep.get(REWARDS_URL, json={"data": [], "next": "again"})
    pep.get(REWARDS_URL, json={"data": [], "next": "again-2"})
    pep.get(REWARDS_URL, json={"data": [], "next": "again-3"})

    first = poller.rewards_poll()
    second = poller.rewards_poll()

    assert (first.requests, first.stopped) == (3, "rate budget")
    assert second.requests == 0
    cursor = RewardsCursor.objects.get()
    assert cursor.next_page == "again-3"  # the next run continues the drain


def test_a_second_poll_waits_while_one_holds_the_lease(pep: responses_lib.RequestsMock) -> None:
    RewardsCursor.objects.create(lease_until=timezone.now() + timedelta(seconds=60))

    result = poller.rewards_poll()

    assert result.requests == 0 and len(pep.calls) == 0


def test_a_run_polls_at_the_interval_for_under_a_minute(
    pep: responses_lib.RequestsMock, settings: Any
) -> None:
    settings.PEP_REWARDS_POLL_SECONDS = 10
    pep.get(REWARDS_URL, json={"data": []})
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    results = poller.rewards_poll_run(clock=lambda: now[0], sleep=sleep)

    assert len(results) == 6  # at 0, 10, ... 50 s; the next minute's run goes on from 60 s


def test_the_client_caps_the_page_size(pep: responses_lib.RequestsMock) -> None:
    pep.get(REWARDS_URL, json={"data": []})

    poller.get_pep_client().rewards_fetch(limit=5000)

    assert rewards_calls(pep)[0]["limit"] == ["1000"]


def test_staff_see_the_cursor_read_only(admin_client: Any) -> None:
    cursor = RewardsCursor.objects.create(delta="2026-12-01T00:00:00Z", last_error="PEP 503")

    listed = admin_client.get("/admin/webhooks/rewardscursor/")
    page = admin_client.get(f"/admin/webhooks/rewardscursor/{cursor.pk}/change/")

    assert listed.status_code == 200 and b"PEP 503" in listed.content
    assert page.status_code == 200 and b"2026-12-01T00:00:00Z" in page.content
    assert (
        admin_client.post(f"/admin/webhooks/rewardscursor/{cursor.pk}/delete/").status_code == 403
    )


def test_support_sees_the_cursor(db: None) -> None:
    assert (
        Group.objects.get(name="Support").permissions.filter(codename="view_rewardscursor").exists()
    )


def test_a_slow_feed_stops_before_the_lease_runs_out(
    pep: responses_lib.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    pep.get(REWARDS_URL, json={"data": [], "next": "p-2"})
    monkeypatch.setattr(poller, "RUN_SECONDS", -1.0)  # past the deadline after one page

    result = poller.rewards_poll()

    assert (result.requests, result.stopped) == (1, "time budget")
    assert RewardsCursor.objects.get().next_page == "p-2"
