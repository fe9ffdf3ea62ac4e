"""The CSV export: staff with the permission only, filtered by period and player, streamed in
flat memory."""

from __future__ import annotations

import csv
import io
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client

from reconciliation.models import AuditStep, ReconciliationRequest

pytestmark = pytest.mark.django_db
URL = "/admin/reconciliation/auditstep/export/"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def trail(count: int, *, player_every: int = 0, request_id: str = "r-1") -> ReconciliationRequest:
    """`count` steps one second apart from T0, inserted directly (bulk) for speed."""
    request = ReconciliationRequest.objects.create(
        source="reconciliation_api", request_id=request_id, outcome="accepted", cause="pep:test"
    )
    batch = []
    for i in range(count):
        batch.append(
            AuditStep(
                request=request,
                kind="value_sent",
                at=T0 + timedelta(seconds=i),
                cause="task:reconciliation.recheck",
                player_id="p-7" if player_every and i % player_every == 0 else f"p-{i % 1000}",
                field="birthDate",
                outbox_message_id=i,
                detail="",
            )
        )
        if len(batch) == 5000:
            AuditStep.objects.bulk_create(batch)
            batch = []
    AuditStep.objects.bulk_create(batch)
    return request


def rows(response) -> list[dict[str, str]]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_it_exports_a_period_as_csv(client: Client, staff_exporter: User) -> None:
    trail(10)
    client.force_login(staff_exporter)
    response = client.get(URL, {"since": "2026-01-01T00:00:03Z", "until": "2026-01-01T00:00:05Z"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"].startswith('attachment; filename="reconciliation-')
    got = rows(response)
    assert [r["outbox_message_id"] for r in got] == ["3", "4"]
    assert got[0]["time_utc"] == "2026-01-01T00:00:03+00:00"
    assert (got[0]["step"], got[0]["field"], got[0]["request_id"]) == (
        "value_sent",
        "birthDate",
        "r-1",
    )


def test_it_exports_one_players_history_for_whole_days(client, staff_exporter) -> None:
    trail(30, player_every=10)
    client.force_login(staff_exporter)
    got = rows(client.get(URL, {"player": "p-7", "since": "2026-01-01", "until": "2026-01-01"}))
    assert [r["outbox_message_id"] for r in got] == ["0", "7", "10", "20"]


def test_a_cell_that_looks_like_a_formula_is_neutralised(client, staff_exporter) -> None:
    request = trail(0)
    AuditStep.objects.create(request=request, kind="received", cause="pep:x", field="=HYPERLINK()")
    client.force_login(staff_exporter)
    assert rows(client.get(URL))[0]["field"] == "'=HYPERLINK()"


def test_it_is_refused_to_staff_without_the_permission(client) -> None:
    client.force_login(User.objects.create_user("clerk", password="x", is_staff=True))
    assert client.get(URL).status_code == 403


def test_it_sends_anonymous_visitors_to_the_login(client) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_a_bad_date_is_400(client, staff_exporter) -> None:
    client.force_login(staff_exporter)
    assert client.get(URL, {"since": "yesterday"}).status_code == 400


def _peak_while_streaming(client: Client, expected_rows: int) -> int:
    response = client.get(URL)
    tracemalloc.start()
    lines = 0
    for chunk in response.streaming_content:
        lines += chunk.count(b"\n")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert lines == expected_rows + 1
    return peak


def test_a_large_export_streams_in_flat_memory(client, staff_exporter) -> None:
    """Ten times the rows, the same peak: 3,000 rows already span two of the export's
    2,000-row chunks, so a peak that grew with the rows would show at 30,000."""
    client.force_login(staff_exporter)
    trail(3_000)
    small = _peak_while_streaming(client, 3_000)
    trail(27_000, request_id="r-2")
    large = _peak_while_streaming(client, 30_000)
    assert large < 5 * 1024 * 1024  # a few chunks' worth, not 30,000 rows
    assert large < small * 1.5  # ten times the rows, about the same peak


# --- the export is the list: every filter of the admin's change list applies ----------------------

LIST = "/admin/reconciliation/auditstep/"


@pytest.fixture
def officer(client: Client) -> Client:
    client.force_login(User.objects.create_superuser("chief", password="x"))
    return client


def varied_trail() -> None:
    """Steps of three kinds over three days, for players p-7 and p-8."""
    request = trail(0)
    for i in range(30):
        AuditStep.objects.create(
            request=request,
            kind=("received", "value_sent", "failed")[i % 3],
            at=T0 + timedelta(days=i // 10, minutes=i),
            cause="pep:test",
            player_id=("p-7", "p-8")[i % 2],
            field="email",
            outbox_message_id=i,
        )


@pytest.mark.parametrize(
    "query",
    [
        {"kind__exact": "failed"},
        {"at__gte": "2026-01-02 00:00:00+00:00", "at__lt": "2026-01-03 00:00:00+00:00"},
        {"at__year": "2026", "at__month": "1", "at__day": "3"},
        {"q": "p-7", "kind__exact": "value_sent", "o": "-2"},
        {"kind__exact": "received", "at__gte": "2026-01-02 00:00:00+00:00", "p": "1"},
    ],
)
def test_the_export_holds_exactly_the_rows_of_the_filtered_list(officer, query) -> None:
    varied_trail()
    listed = officer.get(LIST, query)
    assert listed.status_code == 200
    shown = {str(step.outbox_message_id) for step in listed.context["cl"].result_list}
    got = rows(officer.get(URL, query))
    assert {r["outbox_message_id"] for r in got} == shown
    assert len(got) == len(shown) > 0
    assert [r["time_utc"] for r in got] == sorted(r["time_utc"] for r in got)  # oldest first


def test_the_lists_export_link_carries_its_filters(officer) -> None:
    varied_trail()
    page = officer.get(LIST, {"kind__exact": "failed"}).content.decode()
    assert f'href="{URL}?kind__exact=failed"' in page


def test_a_lookup_the_list_does_not_offer_is_400(officer) -> None:
    varied_trail()
    assert officer.get(URL, {"request__payload__contains": "x"}).status_code == 400
