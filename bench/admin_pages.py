#!/usr/bin/env python
"""Back-office pages at a million outbox rows, beside the same pages at 10,000 rows.

    python bench/admin_pages.py                  # 10,000 then 1,000,000 rows (about 3 minutes)
    python bench/admin_pages.py --rows 200000    # a quicker look (the targets are not judged)

The pages staff open while deliveries pile up (the dashboard, /healthz, the outbox and attempt
lists under each filter) must not slow down as the tables grow: every query is meant to follow
an index or read an estimate. A timed test cannot say that honestly (a fast machine passes
anything), so this prints the figures instead, and compares each page against itself on a
small table in the same run: the ratio holds on a busy machine where milliseconds do not.

For each size, a fresh PostgreSQL database (bench/pg.py, as `.ci/run` prepares it), migrated,
with production settings (bench/server_env.py: no DEBUG query log) and Django's test client in
process, logged in as a Support staff member. The rows are generated server-side
(`INSERT … SELECT generate_series`), one delivery attempt each, then VACUUM ANALYZE (what
autovacuum gives a production table). Each page: one warm-up request (its queries counted),
then the best of three timed requests. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pg  # bench/pg.py: a fresh PostgreSQL database, reached as .ci/run reaches it
from server_env import PRODUCTION_LIKE

ROOT = Path(__file__).resolve().parent.parent
SMALL_ROWS = 10_000
TARGET_MS = 1000.0
# Pages whose queries follow indexes cost about the same at 100 times the rows (fixed
# rendering dominates); a scan would multiply by tens. 3 leaves room for the exact counts the
# filtered lists make by design (docs/back-office.md, "Large tables").
TARGET_RATIO = 3.0
TARGETS_AT_ROWS = 1_000_000
TIMED_RUNS = 3

# The distribution of the former tests/admin/test_scale.py: 2 % pending, 1 % failed (http_400),
# the rest delivered, four message types, 50,000 players; plus what production rows also
# carry: ids in creation order (row n is n seconds after the oldest), the player's lane as
# enqueue() sets it, and 0.1 % replayed rows, so the replay filters find something.
SEED_OUTBOX = """
INSERT INTO events_outboxmessage (message_type, method, path, body, fingerprint, player_id, lane,
    occurred_at, created_at, status, trigger, attempts, retry_step, next_attempt_at,
    first_failed_at, lease_expires_at, claimed_by, delivered_at, failed_at, last_status_code,
    last_error_class, last_error, replayed_at, replayed_by, replay_count)
SELECT (ARRAY['game_round','money_transaction','player_login','bonus_granted'])[1 + n %% 4],
    'POST', '/rx-api/x', '{"n":' || n || '}', md5(n::text),
    'p-' || (n %% 50000), 'p-' || (n %% 50000), at, at,
    CASE WHEN n %% 100 = 0 THEN 'failed' WHEN n %% 50 = 1 THEN 'pending' ELSE 'delivered' END,
    CASE WHEN n %% 1000 = 7 THEN 'replay' ELSE 'scheduled' END, 1, 0, now(), NULL, NULL, '',
    CASE WHEN n %% 100 = 0 OR n %% 50 = 1 THEN NULL ELSE at END,
    CASE WHEN n %% 100 = 0 THEN at END,
    CASE WHEN n %% 100 = 0 THEN 400 END,
    CASE WHEN n %% 100 = 0 THEN 'http_400' ELSE '' END, '',
    CASE WHEN n %% 1000 = 7 THEN at END, CASE WHEN n %% 1000 = 7 THEN 'bench' ELSE '' END,
    CASE WHEN n %% 1000 = 7 THEN 1 ELSE 0 END
FROM generate_series(%(start)s, %(stop)s - 1) AS n,
    LATERAL (SELECT %(now)s - (%(rows)s - n) * interval '1 second' AS at) AS moment
"""
SEED_ATTEMPTS = """
INSERT INTO events_deliveryattempt (message_id, started_at, duration_ms, status_code, outcome,
    error_class, error_excerpt, trigger, worker)
SELECT id, created_at, 20,
    CASE status WHEN 'failed' THEN 400 WHEN 'pending' THEN 503 ELSE 202 END,
    CASE status WHEN 'failed' THEN 'failed' WHEN 'pending' THEN 'retry' ELSE 'delivered' END,
    last_error_class, '', trigger, 'w1'
FROM events_outboxmessage
"""
# What enqueue() keeps beside pending rows: one lane per player (events/lanes.py).
SEED_LANES = """
INSERT INTO events_outboxlane (player_id, next_attempt_at, lease_expires_at, claimed_by, version)
SELECT lane, MIN(next_attempt_at), NULL, '', 0 FROM events_outboxmessage
WHERE status = 'pending' GROUP BY lane
"""
CHUNK = 100_000


def pages() -> list[str]:
    """The pages of the former timed test: the dashboard, /healthz, each list and filter."""
    from django.urls import reverse
    from django.utils import timezone

    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    since = quote(str(today))
    outbox = reverse("admin:events_outboxmessage_changelist")
    attempts = reverse("admin:events_deliveryattempt_changelist")
    return [
        reverse("backoffice-dashboard"),
        "/healthz",
        outbox,
        outbox + "?status__exact=failed",
        outbox + "?status__exact=pending",
        outbox + "?message_type=money_transaction",
        outbox + "?last_error_class=http_400",
        outbox + "?q=p-123",
        outbox + "?trigger__exact=replay",
        outbox + "?replayed=yes",
        outbox + f"?created_at__gte={since}",
        attempts,
        attempts + "?outcome__exact=failed",
        attempts + f"?started_at__gte={since}",
    ]


# --- the measuring process (Django set up on one size's database) ----------------------------


def phase(rows: int) -> dict[str, Any]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pepbridge.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    # Production serves hashed static names from a manifest; the admin's templates need it.
    if not (Path(settings.STATIC_ROOT) / "staticfiles.json").exists():
        call_command("collectstatic", verbosity=0, interactive=False)
    seed_seconds = seed(rows)
    client = support_client()
    return {
        "rows": rows,
        "seed_seconds": round(seed_seconds, 1),
        "pages": {url: time_page(client, url) for url in pages()},
    }


def seed(rows: int) -> float:
    from django.db import connection
    from django.utils import timezone

    started = time.perf_counter()
    # One "now" for every chunk: each is its own transaction, and ids must follow the times.
    moment = {"now": timezone.now(), "rows": rows}
    with connection.cursor() as cursor:
        for start in range(1, rows + 1, CHUNK):
            stop = min(start + CHUNK, rows + 1)
            cursor.execute(SEED_OUTBOX, {**moment, "start": start, "stop": stop})
        cursor.execute(SEED_ATTEMPTS)
        cursor.execute(SEED_LANES)
        # What autovacuum does in production: statistics and the visibility map.
        for table in ("events_outboxmessage", "events_deliveryattempt", "events_outboxlane"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    return time.perf_counter() - started


def support_client() -> Any:
    """The test client logged in as a Support member (the group that watches deliveries)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client

    user = get_user_model().objects.create_user("bench-support", is_staff=True)
    user.groups.add(Group.objects.get(name="Support"))
    client = Client()
    client.force_login(user)
    return client


def time_page(client: Any, url: str) -> dict[str, Any]:
    """Best of three after a warm-up: the page's cost, not a busy machine's noise."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        statuses = {client.get(url).status_code}
    count = len(queries)  # now: the next request clears the log it reads from
    timings = []
    for _ in range(TIMED_RUNS):
        started = time.perf_counter()
        statuses.add(client.get(url).status_code)
        timings.append(time.perf_counter() - started)
    return {
        "ms": round(min(timings) * 1000, 1),
        "queries": count,
        "statuses": sorted(statuses),
    }


# --- orchestration ---------------------------------------------------------------------------


def measure(rows: int, workdir: Path) -> dict[str, Any]:
    """One size on a database of its own, in a process of its own (settings read at start)."""
    name = f"pepbridge_bench_admin_{os.getpid()}"
    try:
        database_url = pg.fresh_database(name)
    except pg.PostgresUnavailable as exc:
        raise SystemExit(f"PostgreSQL is needed for this benchmark ({exc})") from None
    env = {
        **os.environ,
        **PRODUCTION_LIKE,
        # Django's test client asks for this host.
        "ALLOWED_HOSTS": "testserver",
        "DATABASE_URL": database_url,
        "PEPBRIDGE_VAR_DIR": str(workdir),
        "DJANGO_SETTINGS_MODULE": "pepbridge.settings",
    }
    argv = [sys.executable, __file__, "--phase", "--rows", str(rows)]
    try:
        done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True)
    finally:
        pg.drop_database(name)
    if done.returncode:
        raise SystemExit(f"the {rows}-row run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def page_ok(url: str, statuses: list[int]) -> bool:
    # /healthz answers 503 when deliveries are overdue: the seeded pending rows are.
    allowed = {200, 503} if url == "/healthz" else {200}
    return set(statuses) <= allowed


def report(small: dict[str, Any], large: dict[str, Any]) -> dict[str, Any]:
    figures: dict[str, dict[str, Any]] = {}
    for url, big in large["pages"].items():
        few = small["pages"][url]
        figures[url] = {
            "ms": big["ms"],
            "small_ms": few["ms"],
            "ratio": round(big["ms"] / few["ms"], 2),
            "queries": big["queries"],
            "small_queries": few["queries"],
            "ok": page_ok(url, big["statuses"]) and page_ok(url, few["statuses"]),
        }
    slowest = max(figures, key=lambda url: figures[url]["ms"])
    steepest = max(figures, key=lambda url: figures[url]["ratio"])
    met = (
        large["rows"] >= TARGETS_AT_ROWS
        and all(page["ok"] for page in figures.values())
        and figures[slowest]["ms"] < TARGET_MS
        and figures[steepest]["ratio"] <= TARGET_RATIO
    )
    return {
        "rows": large["rows"],
        "small_rows": small["rows"],
        "seed_seconds": large["seed_seconds"],
        "pages": figures,
        "max_ms": figures[slowest]["ms"],
        "max_ms_page": slowest,
        "max_ratio": figures[steepest]["ratio"],
        "max_ratio_page": steepest,
        "statuses_ok": all(page["ok"] for page in figures.values()),
        "target_ms": TARGET_MS,
        "target_ratio": TARGET_RATIO,
        "targets_at_rows": TARGETS_AT_ROWS,
        "meets_targets": met,
    }


def print_table(result: dict[str, Any]) -> None:
    rows, small = f"{result['rows']:,}", f"{result['small_rows']:,}"
    print(f"{'page':78} {small + ' ms':>10} {rows + ' ms':>12} {'ratio':>6} {'queries':>8}")
    for url, page in result["pages"].items():
        queries = f"{page['small_queries']}/{page['queries']}"
        flag = "" if page["ok"] else "  (unexpected status)"
        print(
            f"{url:78} {page['small_ms']:>10} {page['ms']:>12} {page['ratio']:>6} "
            f"{queries:>8}{flag}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="outbox rows of the big run")
    parser.add_argument("--small", type=int, default=SMALL_ROWS, help="rows of the reference run")
    parser.add_argument("--phase", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args.rows)))
        return 0

    workdir = Path(tempfile.mkdtemp(prefix="pepbridge-bench-"))
    try:
        small = measure(args.small, workdir)
        print(f"{args.small:,} rows: seeded in {small['seed_seconds']} s")
        large = measure(args.rows, workdir)
        print(f"{args.rows:,} rows: seeded in {large['seed_seconds']} s")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result = report(small, large)
    print(f"database=postgresql cpus={os.cpu_count()} best of {TIMED_RUNS} after a warm-up")
    print_table(result)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
