"""Concurrent copies of one assign-bonus request on PostgreSQL: one row, one grant, all 202."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from bonuses import services
from bonuses.models import AssignmentConflict, BonusAssignment, PlayerBonus
from events.models import OutboxMessage
from pepbridge.api.services import api_key_create

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BODY = {
    "requestId": "r-concurrent",
    "eventDate": "2026-05-01T12:00:00.000Z",
    "playerId": "p-1",
    "bonusOfferId": "WELCOME-10",
}


def _all_at_once(count: int, work: Callable[[], Any]) -> list[Any]:
    """Run `work` in `count` threads released together; each thread closes its connection."""
    barrier = threading.Barrier(count)

    def run() -> Any:
        try:
            barrier.wait()
            return work()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return [future.result() for future in [pool.submit(run) for _ in range(count)]]


def test_fifty_identical_requests_at_once_give_fifty_202_and_one_grant(
    make_bonus, make_player
) -> None:
    make_bonus()
    make_player("p-1")
    key = api_key_create(name="PEP", scope="pep").api_key
    raw = json.dumps(BODY)

    def post() -> int:
        client = APIClient()
        client.credentials(HTTP_X_AUTHORIZATION=key)
        return client.generic(
            "POST", "/api/bonus/v1/assign-bonus", raw, content_type="application/json"
        ).status_code

    statuses = _all_at_once(50, post)

    assert statuses == [202] * 50
    assignment = BonusAssignment.objects.get()
    assert assignment.duplicate_count == 49
    assert not AssignmentConflict.objects.exists()
    _all_at_once(8, lambda: services.assignment_process(assignment_id=assignment.pk))
    assert PlayerBonus.objects.count() == 1
    assert OutboxMessage.objects.filter(message_type="bonus_granted").count() == 1


def test_concurrent_grants_to_one_player_respect_the_maximum(make_bonus, make_player) -> None:
    make_bonus(max_grants_per_player=1)
    make_player("p-1")
    ids = []
    for n in range(6):
        request = services.AssignRequest(
            request_id=f"r-{n}",
            event_date=timezone.now(),
            player_ids=("p-1",),
            bonus_ref="WELCOME-10",
        )
        ids.append(services.assignment_accept(client_key="pep", request=request, body={"n": n}))
    pending = iter(result.assignment.pk for result in ids)
    lock = threading.Lock()

    def process_next() -> None:
        with lock:
            pk = next(pending)
        services.assignment_process(assignment_id=pk)

    _all_at_once(6, process_next)
    assert PlayerBonus.objects.count() == 1
