"""The sandbox's operator platform: receives what the bridge forwards, verifies, shows it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from django.db import transaction
from django.utils import timezone

from events import forwarding
from events.models import OutboxMessage
from events.services import delivery
from events.services.subscriptions import subscription_create
from pepbridge.pep.client import PepClient
from pepbridge.pep.webhook_sender import secret_new, signature
from pepbridge.sandbox.operator import OperatorInbox
from pepbridge.sandbox.server import SandboxServer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]


@pytest.fixture
def secret() -> dict[str, str | None]:
    return {"value": None}


@pytest.fixture
def sandbox(secret: dict[str, str | None]) -> Iterator[SandboxServer]:
    server = SandboxServer(operator=OperatorInbox(secret=lambda: secret["value"]))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_forwarded_events_show_verified_on_the_operator_page(sandbox, secret) -> None:
    url = f"{sandbox.base_url}/_sandbox/operator"
    issued = subscription_create(name="sandbox", url=url, event_types=[])
    secret["value"] = issued.secret
    event = forwarding.Event("pep.level_up", "k-1", {"playerId": "demo-1001"}, timezone.now())
    with transaction.atomic():
        forwarding.forward([event])
    client = PepClient(base_url=sandbox.base_url, client_id="x", client_secret="y")
    delivery.drain(max_seconds=5, worker="w", client=client, sleep=lambda s: None)
    client.close()
    assert OutboxMessage.objects.get().status == OutboxMessage.Status.DELIVERED
    (item,) = sandbox.sandbox.operator.items()
    assert (item.event_type, item.player, item.verdict) == ("pep.level_up", "demo-1001", "verified")
    page = requests.get(url, timeout=5).text
    assert "pep.level_up" in page and "verified" in page


def test_a_bad_signature_is_refused_and_shown(sandbox, secret) -> None:
    secret["value"] = secret_new()
    stamp = str(int(timezone.now().timestamp()))
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": stamp,
        "webhook-signature": signature(secret_new(), "msg_1", int(stamp), b"{}"),
    }
    url = f"{sandbox.base_url}/_sandbox/operator"
    assert requests.post(url, data=b"{}", headers=headers, timeout=5).status_code == 401
    assert sandbox.sandbox.operator.items()[0].verdict == "bad signature"
    assert "bad signature" in requests.get(url, timeout=5).text
