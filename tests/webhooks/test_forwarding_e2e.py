"""End to end over loopback: PEP's events and the bridge's grants forwarded to an operator
receiver that is down for a while, then up: each received exactly once, verified with the
`standardwebhooks` library, in order per player; the messages to PEP are not held up meanwhile.
"""

from __future__ import annotations

import json
import random
import socket
import threading
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from bonuses.models import Bonus, BonusType
from events.models import EndpointState, OutboxLane, OutboxMessage
from events.services import delivery
from events.services.subscriptions import subscription_create
from pepbridge.pep.client import PepClient
from pepbridge.sandbox.server import SandboxServer
from players.models import Player
from tests.webhooks.test_end_to_end import PLAYERS, send, unique_events
from webhooks.models import ProductMapping
from webhooks.processing import inbox_process_pending

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
Status = OutboxMessage.Status


class Receiver:
    """The operator's platform: verifies each request, keeps what passed, answers 204."""

    def __init__(self, secret: str, port: int) -> None:
        self.webhook = Webhook(secret)
        self.port = port
        self.received: list[tuple[str, dict[str, Any]]] = []  # (webhook-id, payload)
        self.refused = 0
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {key.lower(): value for key, value in self.headers.items()}
                try:
                    payload = receiver.webhook.verify(body, headers)
                except WebhookVerificationError:
                    with receiver.lock:
                        receiver.refused += 1
                    self.send_response(401)
                else:
                    with receiver.lock:
                        receiver.received.append((headers["webhook-id"], payload))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def pep() -> Iterator[SandboxServer]:
    server = SandboxServer(port=0, client_id="e2e", client_secret="e2e-secret")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def drain(client: PepClient) -> int:
    return delivery.drain(max_seconds=20, worker="w1", client=client, sleep=lambda s: None)


def time_passes() -> None:
    """Every retry wait and circuit pause is over (instead of sleeping through them)."""
    now = timezone.now()
    OutboxMessage.objects.filter(status=Status.PENDING).update(next_attempt_at=now)
    OutboxLane.objects.update(next_attempt_at=now)
    EndpointState.objects.update(retry_at=now)


def test_a_receiver_down_for_a_while_then_gets_everything_once_in_order(pep, settings) -> None:
    settings.OUTBOX_QUICK_RETRIES = 0
    port = free_port()
    issued = subscription_create(
        name="operator platform", url=f"http://127.0.0.1:{port}/pep-events", event_types=[]
    )
    receiver = Receiver(issued.secret, port)
    for player in PLAYERS:
        Player.objects.create(player_id=player)
    bonus = Bonus.objects.create(
        bonus_id="COINS-10", name="Coins", bonus_type=BonusType.CASH, amount=Decimal("10"),
        currency="EUR",
    )  # fmt: skip
    ProductMapping.objects.create(pep_product_id="coins-10", bonus=bonus)
    rng = random.Random(7)
    events = unique_events()
    stream = events + rng.sample(events, 60)  # 30 % sent twice
    rng.shuffle(stream)
    client = Client()
    for start in range(0, len(stream), 10):
        send(client, stream[start : start + 10])
    inbox_process_pending(max_seconds=60)  # 20 purchases granted: 20 bridge.bonus_granted

    pep_client = PepClient(base_url=pep.base_url, client_id="e2e", client_secret="e2e-secret")
    forwarded = OutboxMessage.objects.filter(subscription=issued.subscription)
    assert forwarded.count() == 220
    # The receiver is down: nothing listens on its port.
    for _ in range(3):
        drain(pep_client)
        time_passes()
    assert not forwarded.filter(status=Status.DELIVERED).exists()
    assert forwarded.filter(attempts__gt=0).exists()
    to_pep = OutboxMessage.objects.filter(subscription__isnull=True)
    assert to_pep.count() == 20  # the grants' messages to PEP went meanwhile
    assert set(to_pep.values_list("status", flat=True)) == {Status.DELIVERED}

    receiver.start()
    try:
        for _ in range(20):
            drain(pep_client)
            if not forwarded.exclude(status=Status.DELIVERED).exists():
                break
            time_passes()
    finally:
        receiver.stop()
        pep_client.close()

    assert set(forwarded.values_list("status", flat=True)) == {Status.DELIVERED}
    assert receiver.refused == 0
    ids = [webhook_id for webhook_id, _ in receiver.received]
    assert len(ids) == len(set(ids)) == 220  # exactly once
    payloads = [payload for _, payload in receiver.received]
    kinds = defaultdict(int)
    for payload in payloads:
        kinds[payload["type"]] += 1
    assert kinds["bridge.bonus_granted"] == 20
    assert sum(kinds.values()) - 20 == 200
    inbox_ids = {p["data"]["inboxEventId"] for p in payloads if p["type"].startswith("pep.")}
    assert len(inbox_ids) == 200
    by_player: dict[str, list[datetime]] = defaultdict(list)
    for payload in payloads:
        by_player[payload["data"]["playerId"]].append(_instant(payload["timestamp"]))
    for player, moments in by_player.items():
        assert moments == sorted(moments), f"{player} received out of order"


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_the_body_received_is_the_stored_envelope(pep) -> None:
    """What a receiver parses: type, timestamp and data, as docs/webhooks.md shows."""
    port = free_port()
    issued = subscription_create(name="crm", url=f"http://127.0.0.1:{port}/h", event_types=[])
    receiver = Receiver(issued.secret, port)
    receiver.start()
    try:
        send(Client(), unique_events()[:1])
        inbox_process_pending(max_seconds=10)
        pep_client = PepClient(base_url=pep.base_url, client_id="e2e", client_secret="e2e-secret")
        drain(pep_client)
        pep_client.close()
    finally:
        receiver.stop()
    ((_, payload),) = receiver.received
    assert sorted(payload) == ["data", "timestamp", "type"]
    assert payload["type"] == "pep.level_up"
    row = OutboxMessage.objects.get()
    assert json.loads(row.body) == payload
