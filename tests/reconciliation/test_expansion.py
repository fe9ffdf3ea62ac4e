"""A large reconciliation request: answered once stored, its items opened after, in chunks."""

from __future__ import annotations

import json
import time
from unittest import mock

import pytest

from reconciliation import services
from reconciliation.models import (
    AuditStep,
    ReconciliationItem,
    ReconciliationRequest,
    RepairState,
    RequestExpansion,
)
from tests.reconciliation.conftest import RECON_URL, recon_body

pytestmark = pytest.mark.django_db

FIELDS = [f"field{i}" for i in range(100)]


def test_a_request_of_1000_players_by_100_fields_is_answered_without_opening_an_item(
    pep_client,
) -> None:
    body = recon_body("big", **{f"p-{i}": FIELDS for i in range(1000)})
    started = time.monotonic()
    with mock.patch("reconciliation.services.queue_task"):
        answer = pep_client.post(RECON_URL, body, format="json")
    elapsed = time.monotonic() - started
    assert answer.status_code == 202
    assert not ReconciliationItem.objects.exists()
    expansion = RequestExpansion.objects.get()
    assert (expansion.status, expansion.next_player, len(expansion.players)) == ("pending", 0, 1000)
    print(f"1000 x 100 answered in {elapsed:.2f} s")  # a figure for the report (-s)


def test_the_items_are_opened_in_chunks_each_with_its_step_and_state(pep_client, settings) -> None:
    settings.RECONCILIATION_EXPAND_CHUNK = 3
    players = {f"p-{i}": ["email", "country", "email"] for i in range(10)}
    pep_client.post(RECON_URL, recon_body("r-1", **players), format="json")
    request = ReconciliationRequest.objects.get()
    with mock.patch.object(services, "_expand_chunk", wraps=services._expand_chunk) as chunk:
        assert services.request_expand(request.pk) == 20
    assert chunk.call_count == 4  # 3 + 3 + 3 + 1 players
    assert ReconciliationItem.objects.count() == 20
    assert AuditStep.objects.filter(kind="received", item__isnull=False).count() == 20
    assert RepairState.objects.filter(status="new").count() == 20
    expansion = RequestExpansion.objects.get()
    assert (expansion.status, expansion.items, expansion.players) == ("done", 20, [])
    assert services.request_expand(request.pk) == 0  # done: a re-run opens nothing


def test_an_expansion_killed_mid_way_is_finished_by_the_recheck_without_duplicates(
    pep_client, settings
) -> None:
    settings.RECONCILIATION_EXPAND_CHUNK = 2
    pep_client.post(
        RECON_URL, recon_body("r-1", **{f"p-{i}": ["email"] for i in range(5)}), format="json"
    )
    request = ReconciliationRequest.objects.get()
    real_open_items = services.open_items
    calls = 0

    def dies_on_the_second_chunk(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("worker killed")
        return real_open_items(*args, **kwargs)

    with (
        mock.patch.object(services, "open_items", dies_on_the_second_chunk),
        pytest.raises(RuntimeError),
    ):
        services.request_expand(request.pk)
    assert ReconciliationItem.objects.count() == 2  # the first chunk committed, not the second
    assert RequestExpansion.objects.get().next_player == 2
    report = services.reconciliation_recheck(cause="task:test")
    assert report.expanded == 3
    items = ReconciliationItem.objects.values_list("player_id", flat=True).order_by("pk")
    assert list(items) == [f"p-{i}" for i in range(5)]
    assert RequestExpansion.objects.get().status == "done"


def test_more_fields_than_the_bound_in_all_is_a_400_recorded(pep_client, settings) -> None:
    settings.RECONCILIATION_MAX_ITEMS = 5
    body = recon_body("r-1", **{"p-1": ["a", "b", "c"], "p-2": ["d", "e", "f"]})
    answer = pep_client.post(RECON_URL, body, format="json")
    assert answer.status_code == 400
    assert answer.json()["errors"] == {"players": ["At most 5 missingFields per request."]}
    assert ReconciliationRequest.objects.get().outcome == "rejected"
    assert not RequestExpansion.objects.exists()


def test_a_body_over_the_byte_bound_is_a_413_recorded_without_being_read(
    pep_client, settings
) -> None:
    settings.RECONCILIATION_MAX_BODY_BYTES = 1024
    body = json.dumps(recon_body("r-1", **{f"p-{i}": ["email"] for i in range(100)}))
    answer = pep_client.post(RECON_URL, body, content_type="application/json")
    assert answer.status_code == 413
    assert answer.json()["message"] == "The body is larger than 1024 bytes."
    request = ReconciliationRequest.objects.get()
    assert (request.outcome, request.payload) == ("rejected", {"raw": "", "bytes": len(body)})
    assert AuditStep.objects.get().kind == "rejected"


def test_a_body_over_djangos_upload_limit_is_a_413_recorded_too(pep_client, settings) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024  # reached first: e.g. a body sent without length
    body = json.dumps(recon_body("r-1", **{f"p-{i}": ["email"] for i in range(100)}))
    answer = pep_client.post(RECON_URL, body, content_type="application/json")
    assert answer.status_code == 413
    request = ReconciliationRequest.objects.get()
    assert (request.outcome, request.payload) == ("rejected", {"raw": "", "bytes": None})
