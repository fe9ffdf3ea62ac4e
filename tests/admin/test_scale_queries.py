"""The pages staff open on a big outbox: the same queries at any size, each with an index path.

Their timings at a million rows are bench/admin_pages.py's job (against the same pages at 10,000
rows, in one run): a timed test passes on a fast machine whatever the code does. What holds on
any machine is the shape of the work. A page whose query count grows with the rows runs a query
per row, and a query the planner can only answer with a sequential scan of the outbox or the
attempts reads every row in production.

A page's query count is compared on both of its paths: counted exactly (a small install), and
estimated (the exact-count limits lowered to 0: the path a production-sized table takes, through
the planner's estimates and `pg_class.reltuples`). The plans are read on the estimated path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any
from unittest import mock
from urllib.parse import quote

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from events import lanes
from events import selectors as event_selectors
from events.models import DeliveryAttempt, OutboxMessage
from pepbridge import metrics_db
from pepbridge.backoffice import paginator

pytestmark = pytest.mark.django_db
BIG_TABLES = ("events_outboxmessage", "events_deliveryattempt")
Queries = list[tuple[str, Any]]

# Every kind on every page (the kinds interleave in id order): each filter below lists some,
# and pending rows bring their players' lane and head lookups. Replayed: trigger "replay" and
# replayed_at set.
KINDS: list[tuple[str, str, str, bool]] = [
    # (status, message type, player, replayed)
    ("failed", "money_transaction", "p-123", False),
    ("pending", "game_round", "p-1", False),
    ("delivered", "player_login", "p-2", False),
    ("delivered", "bonus_granted", "p-123", True),
    ("failed", "game_round", "p-3", False),
    ("pending", "money_transaction", "p-123", False),
    ("delivered", "money_transaction", "p-4", False),
    ("pending", "player_login", "p-5", True),
]
FEW = len(KINDS)  # a row or two on every page
MORE = 7 * len(KINDS)  # then 64: the unfiltered lists show a full page, filtered ones 8 to 32
OUTCOME = {"failed": "failed", "pending": "retry", "delivered": "delivered"}


def pages() -> dict[str, str]:
    """The pages bench/admin_pages.py times: the dashboard, /healthz, each list and filter."""
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    since = quote(str(today))
    outbox = reverse("admin:events_outboxmessage_changelist")
    attempts = reverse("admin:events_deliveryattempt_changelist")
    return {
        "dashboard": reverse("backoffice-dashboard"),
        "healthz": "/healthz",
        "outbox": outbox,
        "outbox failed": outbox + "?status__exact=failed",
        "outbox pending": outbox + "?status__exact=pending",
        "outbox money": outbox + "?message_type=money_transaction",
        "outbox http_400": outbox + "?last_error_class=http_400",
        "outbox search": outbox + "?q=p-123",
        "outbox replay trigger": outbox + "?trigger__exact=replay",
        "outbox replayed": outbox + "?replayed=yes",
        "outbox today": outbox + f"?created_at__gte={since}",
        "attempts": attempts,
        "attempts failed": attempts + "?outcome__exact=failed",
        "attempts today": attempts + f"?started_at__gte={since}",
    }


PAGES = list(pages())


@pytest.fixture
def support(db: None) -> Client:
    """A Support member (who watches deliveries), without a password: hashing one takes 0.5 s."""
    user = get_user_model().objects.create_user("support", is_staff=True)
    user.groups.add(Group.objects.get(name="Support"))
    client = Client()
    client.force_login(user)
    return client


def add_rows(count: int) -> None:
    """`count` outbox rows, the kinds in turn, one attempt each, the pending players' lanes."""
    now = timezone.now()
    rows = []
    for index in range(count):
        status, message_type, player, replayed = KINDS[index % len(KINDS)]
        failed = status == "failed"
        rows.append(
            OutboxMessage(
                message_type=message_type,
                method="POST",
                path=f"/rx-api/test/{message_type}",
                body=f'{{"playerId":"{player}","seq":{index}}}',
                fingerprint="f" * 64,
                player_id=player,
                lane=player,  # as enqueue() sets it
                occurred_at=now,
                status=status,
                trigger="replay" if replayed else "scheduled",
                attempts=1,
                failed_at=now if failed else None,
                delivered_at=now if status == "delivered" else None,
                last_status_code=400 if failed else None,
                last_error_class="http_400" if failed else "",
                replayed_at=now if replayed else None,
            )
        )
    OutboxMessage.objects.bulk_create(rows)
    DeliveryAttempt.objects.bulk_create(
        DeliveryAttempt(
            message=row,
            started_at=now,
            duration_ms=12,
            status_code=row.last_status_code,
            outcome=OUTCOME[row.status],
            error_class=row.last_error_class,
            trigger=row.trigger,
        )
        for row in rows
    )
    lanes.touch([row.lane for row in rows if row.status == "pending"], due=now)
    if connection.vendor == "postgresql":
        # Without statistics (reltuples -1) the paginator counts instead of estimating.
        with connection.cursor() as cursor:
            for table in BIG_TABLES:
                cursor.execute(f"ANALYZE {table}")


@contextmanager
def estimated() -> Iterator[None]:
    """Every count past its exact limit: the path a table of a million rows takes."""
    with (
        mock.patch.object(event_selectors, "EXACT_COUNT_UP_TO", 0),
        mock.patch.object(metrics_db, "EXACT_UP_TO", 0),
        mock.patch.object(paginator, "EXACT_BELOW", 0),
    ):
        yield


PATHS: dict[str, Callable[[], AbstractContextManager[None]]] = {
    "exact": nullcontext,
    "estimated": estimated,
}


def page_queries(client: Client, url: str, path: Callable[[], Any]) -> Queries:
    """The (sql, params) the page runs, as executed; the page must answer."""
    executed: Queries = []

    def record(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        executed.append((sql, params))
        return execute(sql, params, many, context)

    with path(), connection.execute_wrapper(record):
        response = client.get(url)
    # /healthz is 503 when a delivery is overdue; the work it does is the same.
    assert response.status_code in ((200, 503) if url == "/healthz" else (200,)), url
    return executed


@pytest.mark.parametrize("page", PAGES)
def test_a_pages_query_count_does_not_grow_with_the_outbox(support, page: str) -> None:
    url = pages()[page]
    add_rows(FEW)
    few = {name: len(page_queries(support, url, path)) for name, path in PATHS.items()}
    add_rows(MORE)
    many = {name: len(page_queries(support, url, path)) for name, path in PATHS.items()}
    assert many == few


def sequential_scans(sql: str, params: Any) -> list[str]:
    """The big tables this query can only read with a sequential scan (by PostgreSQL's plan).

    On a small table a sequential scan is the planner's right choice (at 30,000 rows it picks
    one for the counts of common values), so its plain choice says nothing about a million
    rows. Told to avoid them, it keeps one only where no index can stand in for the table:
    none matches the query's conditions and none holds every column it reads.
    """
    with connection.cursor() as cursor:
        cursor.execute("SAVEPOINT explain_scans")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
        cursor.execute("ROLLBACK TO SAVEPOINT explain_scans")  # and the setting with it

    def scans(node: dict[str, Any]) -> Iterator[str]:
        if node["Node Type"] == "Seq Scan" and node.get("Relation Name") in BIG_TABLES:
            yield node["Relation Name"]
        for child in node.get("Plans", []):
            yield from scans(child)

    return list(scans(plan[0]["Plan"]))


@pytest.mark.postgres
@pytest.mark.parametrize("page", PAGES)
def test_no_page_query_needs_a_sequential_scan(support, page: str) -> None:
    """Told to avoid sequential scans, the planner has an index path for every page query.

    Not caught here: a full scan of an index (say `UPPER(player_id) = …`, read through an index
    that holds player_id). On a small table such a plan is legitimate too; the bench's ratio at
    a million rows is what shows it.
    """
    add_rows(FEW + MORE)
    # The estimated path's queries: the ones a million-row table runs.
    reads = [
        (sql, params)
        for sql, params in page_queries(support, pages()[page], estimated)
        if sql.lstrip().upper().startswith("SELECT") and any(t in sql for t in BIG_TABLES)
    ]
    assert reads, "the page read neither the outbox nor the attempts"
    scans = [(table, sql) for sql, params in reads for table in sequential_scans(sql, params)]
    assert scans == []
