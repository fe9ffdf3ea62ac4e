"""The sandbox as PEP's webhook sender: signed like PEP, accepted by a running bridge, and the
demo's mapped product turning a purchase into a granted bonus."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from bonuses.models import PlayerBonus
from pepbridge import demo
from pepbridge.sandbox.app import Sandbox
from pepbridge.sandbox.responses import Request
from pepbridge.sandbox.webhooks import (
    DEMO_PRODUCT_ID,
    WebhookSender,
    build_event,
    signed_headers,
)
from players.models import Player
from tests.webhooks.conftest import KEY, URL
from webhooks.models import Fulfilment, InboxEvent, LoyaltySnapshot, ProductMapping
from webhooks.processing import inbox_process_pending
from webhooks.security import sign


def test_the_sandbox_signs_as_the_bridge_verifies() -> None:
    body = json.dumps({"events": [build_event("level_up", "p-1")]}).encode()

    headers = signed_headers(KEY, body, timestamp="1764750000")

    assert headers["x-gmz-pep-webhook-signature"] == sign(KEY, "1764750000", body)


def test_each_sandbox_purchase_is_a_new_purchase() -> None:
    first, second = build_event("product_purchase", "p-1"), build_event("product_purchase", "p-1")

    ids = [
        next(i["value"] for i in e["payload"] if i["key"] == "PurchaseId") for e in (first, second)
    ]
    assert ids[0] != ids[1]
    with pytest.raises(ValueError):
        build_event("mission_complete", "p-1")


@pytest.fixture
def demo_mapped(db: None) -> None:
    """The demo catalogue and its product mapping (twice: the demo is idempotent)."""
    demo._bonuses()
    demo._product_mapping()
    demo._product_mapping()
    Player.objects.create(player_id="demo-1001")


def test_the_demo_maps_the_sandbox_product_once(demo_mapped: None) -> None:
    mapping = ProductMapping.objects.get()
    assert mapping.pep_product_id == DEMO_PRODUCT_ID
    assert mapping.bonus.bonus_id == "FS-STARBURST-20"


def test_the_page_buttons_send_signed_webhooks_the_bridge_accepts(
    live_server: Any, demo_mapped: None
) -> None:
    sender = WebhookSender(url=f"{live_server.url}{URL}", key=KEY)
    sandbox = Sandbox(client_id="id", client_secret="secret", webhooks=sender)

    for kind in ("level_up", "product_purchase"):
        answer = sandbox.handle(
            Request(
                "POST",
                "/_sandbox/webhooks",
                {},
                {"Content-Type": "application/x-www-form-urlencoded"},
                f"event={kind}&player=demo-1001".encode(),
            )
        )
        assert answer.status == 303
    inbox_process_pending(max_seconds=30)

    assert [s.status for s in sender.recent()] == [202, 202]
    assert LoyaltySnapshot.objects.get(player_ref="demo-1001").level == 2
    assert Fulfilment.objects.get().status == Fulfilment.Status.DONE
    assert PlayerBonus.objects.get().bonus.bonus_id == "FS-STARBURST-20"
    page = sandbox.handle(Request("GET", "/_sandbox/", {}, {}, b"")).body.decode()
    assert "product purchase</button>" in page and "202" in page


def test_the_sandbox_refuses_an_unknown_event_without_sending(db: None) -> None:
    sender = WebhookSender(url="http://127.0.0.1:9/never", key=KEY)
    sandbox = Sandbox(client_id="id", client_secret="secret", webhooks=sender)

    answer = sandbox.handle(Request("POST", "/_sandbox/webhooks", {}, {}, b'{"event": "nope"}'))

    assert answer.status == 400 and sender.recent() == []


def test_the_command_sends_a_purchase_that_becomes_a_granted_bonus(
    live_server: Any, demo_mapped: None, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("pep_webhook", "product_purchase", "--url", f"{live_server.url}{URL}")
    inbox_process_pending(max_seconds=30)

    assert "product_purchase for demo-1001: 202" in capsys.readouterr().out
    assert InboxEvent.objects.get().event_name == "product_purchase"
    assert PlayerBonus.objects.filter(player__player_id="demo-1001").count() == 1


def test_the_command_fails_loudly_when_the_bridge_does_not_accept(db: None) -> None:
    with pytest.raises(CommandError, match="answered nothing"):
        call_command("pep_webhook", "level_up", "--url", "http://127.0.0.1:9/none")


def test_json_labelled_as_a_form_is_read_as_json(live_server: Any, demo_mapped: None) -> None:
    """`curl -d '{...}'` labels its JSON as a form; the docs' example must work."""
    sender = WebhookSender(url=f"{live_server.url}{URL}", key=KEY)
    sandbox = Sandbox(client_id="id", client_secret="secret", webhooks=sender)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    body = b'{"event": "rank_up", "player": "demo-1001"}'

    answer = sandbox.handle(Request("POST", "/_sandbox/webhooks", {}, form, body))

    assert answer.status == 200 and json.loads(answer.body)["status"] == 202
