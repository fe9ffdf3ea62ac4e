"""Each outbox row says why it is where it is, on the list and on its page (issue 13)."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags

from events import services
from events.models import EndpointState, OutboxMessage
from tests.admin.conftest import outbox_rows

pytestmark = pytest.mark.django_db
LIST = reverse("admin:events_outboxmessage_changelist")


def page_of(row: OutboxMessage) -> str:
    return reverse("admin:events_outboxmessage_change", args=[row.pk])


def states(client) -> dict[int, str]:
    """Each row's sentence as the list shows it, as text (the cell colours it by status)."""
    response = client.get(LIST)
    admin_ = response.context["cl"].model_admin
    rows = response.context["cl"].result_list
    return {row.pk: html.unescape(strip_tags(admin_.state(row))) for row in rows}


def test_a_dead_letter_shows_no_next_attempt(support) -> None:
    (row,) = outbox_rows(1, status="failed")
    page = support.get(page_of(row)).content.decode()
    assert "Next attempt at" not in page
    assert "Dead letter since" in page and "(http_400): replay to resend" in page


def test_a_row_behind_its_players_retrying_message_says_which_and_until_when(support) -> None:
    first, second = outbox_rows(2, status="pending")
    retry_at = timezone.now() + timedelta(minutes=5)
    OutboxMessage.objects.filter(pk=first.pk).update(next_attempt_at=retry_at, attempts=2)
    shown = timezone.localtime(retry_at).strftime("%H:%M:%S %Z")
    listed = states(support)
    assert listed[second.pk] == f"Waiting behind #{first.pk} (retrying at {shown})"
    assert listed[first.pk] == f"Retrying at {shown}"
    assert f"Waiting behind #{first.pk}" in support.get(page_of(second)).content.decode()


def _list_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(LIST).status_code == 200
    return len(queries)


def test_the_list_works_out_the_states_in_a_constant_number_of_queries(support) -> None:
    outbox_rows(30, status="pending")
    outbox_rows(3, status="pending", player="p-2", replayed_at=timezone.now())
    few = _list_queries(support)
    outbox_rows(40, status="pending", player="p-3")
    outbox_rows(40, status="pending", player="p-4", replayed_at=timezone.now())
    assert _list_queries(support) == few  # not one more per row, player or replay
    # Session, user, permissions, the header counts, the filters' choices (target, error
    # class), the count (and PostgreSQL's estimate), the page, heads, circuits, attempts.
    assert few <= 15


def test_an_open_circuit_is_named_as_the_reason(support) -> None:
    (row,) = outbox_rows(1, status="pending")
    EndpointState.objects.create(
        message_type="game_round", circuit="open", retry_at=timezone.now() + timedelta(minutes=1)
    )
    assert states(support)[row.pk].startswith("Paused: PEP's game_round endpoint is failing")


def test_a_replayed_row_shows_its_old_error_as_previous(support) -> None:
    (row,) = outbox_rows(1, status="failed")
    services.replay_failed(actor="support", message_ids=[row.pk])
    page = support.get(page_of(row)).content.decode()
    assert "Previous error (before the replay at" in page
    assert "previous: http_400 (400)" in support.get(LIST).content.decode()


def test_times_show_seconds_and_the_zone(support) -> None:
    (row,) = outbox_rows(1, status="delivered")
    OutboxMessage.objects.filter(pk=row.pk).update(
        created_at=datetime(2026, 1, 15, 12, 0, 7, tzinfo=UTC)
    )
    support.cookies["pepbridge_tz"] = "Europe/Zurich"
    assert "2026-01-15 13:00:07 CET" in support.get(LIST).content.decode()
    assert "2026-01-15 13:00:07 CET" in support.get(page_of(row)).content.decode()


def test_every_page_names_the_zone_its_times_are_in(support) -> None:
    support.cookies["pepbridge_tz"] = "Europe/Zurich"
    assert "Time zone: Europe/Zurich</a>" in support.get(LIST).content.decode()
