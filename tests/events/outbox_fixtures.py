"""Fixtures and helpers of the outbox tests (a pytest plugin listed in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import responses as responses_lib
from django.db import transaction
from django.utils import timezone

from events.models import OutboxLane, OutboxMessage
from events.outbox import PepMessage, enqueue
from pepbridge.pep.client import PepClient

BASE = "https://pep.test"


def message(
    player_id: str | None,
    seq: int,
    *,
    message_type: str = "game_round",
    dedup_key: str | None = None,
    occurred_at: datetime | None = None,
    amount: str = "1.50",
) -> PepMessage:
    """A message whose body names its player and sequence, so tests can read order off it."""
    return PepMessage(
        message_type=message_type,
        method="POST",
        path=f"/rx-api/test/{message_type}",
        body={"playerId": player_id, "seq": seq, "amount": Decimal(amount)},
        player_id=player_id,
        dedup_key=dedup_key,
        occurred_at=occurred_at,
    )


def put(*messages: PepMessage) -> list[OutboxMessage]:
    """Enqueue messages in one transaction, occurred_at one second apart unless given."""
    start = timezone.now() - timedelta(minutes=5)
    rows = []
    with transaction.atomic():
        for index, item in enumerate(messages):
            if item.occurred_at is None:
                moment = start + timedelta(seconds=index)
                item = replace(item, occurred_at=moment)
            rows.append(enqueue(item))
    return rows


def make_due(*rows: OutboxMessage) -> None:
    """Pretend the retry delay has passed (for the rows and for their players' lanes)."""
    ids = [row.pk for row in rows] or list(OutboxMessage.objects.values_list("id", flat=True))
    now = timezone.now()
    OutboxMessage.objects.filter(id__in=ids).update(next_attempt_at=now)
    players = OutboxMessage.objects.filter(id__in=ids).values_list("lane", flat=True)
    OutboxLane.objects.filter(player_id__in=list(players)).update(next_attempt_at=now)


@pytest.fixture
def outbox_pep() -> Iterator[responses_lib.RequestsMock]:
    """`responses` standing in for PEP, with the token endpoint answered."""
    with responses_lib.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(f"{BASE}/api/oauth/v1/token", json={"accessToken": "tok", "expiresIn": 3600})
        yield mock


@pytest.fixture
def outbox_client(outbox_pep: responses_lib.RequestsMock) -> PepClient:
    """A PepClient on `outbox_pep`: one attempt per call, no real sleeping."""
    pep_client = PepClient(base_url=BASE, client_id="id", client_secret="secret", attempts=1)
    pep_client.sleep = lambda seconds: None
    return pep_client


def sent_bodies(pep: responses_lib.RequestsMock) -> list[bytes]:
    """Request bodies PEP received (token calls left out), in order."""
    return [
        call.request.body if isinstance(call.request.body, bytes) else call.request.body.encode()
        for call in pep.calls
        if not call.request.url.endswith("/token")
    ]
