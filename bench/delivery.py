#!/usr/bin/env python
"""Delivery benchmark: how close the outbox worker gets to a plain HTTP loop, and to a naive design.

    python bench/delivery.py                 # default run (about 3 minutes on a quiet machine)
    python bench/delivery.py --memory 0      # skip the 100,000-message memory run
    python bench/delivery.py --backlog 1000000   # the 1M-row claim, /healthz and drain figures

Prints (a) the ceiling: one keep-alive requests.Session posting the prepared payloads to a local
sink; (b) pepbridge: the same payloads written to the outbox and drained by one `outbox_drain`
worker process, with the default settings (and by 1, 2 and 4 workers on PostgreSQL, prepared as
`.ci/run` prepares it); (c) a naive design: one django-q2 task per message, each opening a new
connection, timed like (b) from the first task's start to the last one's end; the cost of one
outbox write inside a business transaction; and the worker's memory over 100,000 messages.
The last line is one JSON object.

Every phase that touches the database runs as a subprocess of this script with its own
DATABASE_URL, so the SQLite and PostgreSQL runs share one code path.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MANAGE = str(ROOT / "manage.py")
PG_DB = "pepbridge_bench_delivery"
NAIVE_DONE = "SELECT COUNT(*) FROM django_q_task WHERE \"group\" = 'bench-naive'"
NAIVE_WINDOW = (  # the warm-up task (the first one) is left out
    "SELECT (julianday(MAX(stopped)) - julianday(MIN(started))) * 86400 FROM django_q_task "
    "WHERE \"group\" = 'bench-naive' AND started > "
    "(SELECT MIN(stopped) FROM django_q_task WHERE \"group\" = 'bench-naive')"
)
FAILING_PLAYER = re.compile(rb'"playerId":"p-(0|\d*00)"')
TOKEN = b'{"accessToken":"bench-token","expiresIn":36000}'
PATH = "/rx-api/transactions/v1/money"  # any path: the sink answers 200 to every POST
TARGETS = {
    "ratio_vs_ceiling": 0.7,
    "ratio_vs_naive": 5.0,
    "write_median_ms": 1.0,
    "write_inserts": 1,
    "memory_growth_mb": 10.0,
    "one_percent_failing_ratio": 0.95,
    "latency_hiding_ratio": 0.7,
    "hot_player_ratio": 0.5,
    "backlog_ratio": 0.7,
    "claim_ms_1m": 20.0,
    "health_ms_1m": 100.0,
}


# --- the sink: answers every POST at once, keep-alive, no Nagle ----------------------------------


class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    failing: Any = None  # a shared flag: when set, 1% of players (p-0, p-100, ...) get 503
    delay_ms: Any = None  # a shared value: every non-token answer waits this long (an RTT)

    def do_POST(self) -> None:
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.delay_ms is not None and self.delay_ms.value and not self.path.endswith("/token"):
            time.sleep(self.delay_ms.value / 1000)
        body = TOKEN if self.path.endswith("/token") else b"{}"
        failing = self.failing is not None and self.failing.value
        self.send_response(503 if failing and FAILING_PLAYER.search(data) else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _serve(port: Any, failing: Any, delay_ms: Any) -> None:
    Sink.failing, Sink.delay_ms = failing, delay_ms
    # A thread per connection: a worker with many requests in flight gets them served at once.
    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    server.daemon_threads = True
    server.request_queue_size = 128
    port.value = server.server_address[1]
    server.serve_forever()


class SinkControl:
    """The sink's shared switches: 1% of players failing, and the answer delay."""

    def __init__(self) -> None:
        self.failing = multiprocessing.Value("b", 0)
        self.delay_ms = multiprocessing.Value("i", 0)


def start_sink() -> tuple[multiprocessing.Process, str, SinkControl]:
    port = multiprocessing.Value("i", 0)
    control = SinkControl()
    args = (port, control.failing, control.delay_ms)
    process = multiprocessing.Process(target=_serve, args=args, daemon=True)
    process.start()
    while not port.value:
        time.sleep(0.01)
    return process, f"http://127.0.0.1:{port.value}", control


# --- payloads ------------------------------------------------------------------------------------


def payload(n: int, players: int = 1000) -> dict[str, Any]:
    from decimal import Decimal

    return {
        "playerId": f"p-{n % players}",
        "transactionId": f"mt-{n}",
        "transactionType": "DEPOSIT",
        "transactionStatus": "APPROVED",
        "amount": Decimal("100.00"),
        "currency": "EUR",
        "exchangeRate": 1,
        "date": "2026-01-01T12:00:00.000Z",
        "realMoneyBalance": Decimal("100"),
        "bonusMoneyBalance": 0,
        "paymentMethod": "card",
    }


def ceiling(base_url: str, count: int, threads: int = 1) -> float:
    """(a) Keep-alive sessions posting the prepared bytes: the most the sink allows.

    One session (the target's reference), or `threads` sessions side by side: the worker's
    own in-flight window, with no database, to show what the threads alone cost when the
    sink answers at once (the interpreter's lock, here and in the sink).
    """
    import requests

    sys.path.insert(0, str(ROOT))
    from pepbridge.pep import wire

    bodies = [wire.dumps(payload(n)) for n in range(count)]
    headers = {"Content-Type": "application/json", "Authorization": "Bearer bench-token"}

    def post(part: list[bytes]) -> None:
        session = requests.Session()
        # Like PepClient's session (pepbridge.pep.client.pooled_session): no proxy/.netrc lookup
        # per call, a quarter of a send's CPU; with it on, the "ceiling" would be slower than the
        # worker it bounds. And the same CA bundle setting: given as a path, requests checks it
        # with a system call on every request (4-7 % of a worker's rate where the host sets it).
        session.trust_env = False
        session.verify = (
            os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        )
        for body in part:
            session.post(base_url + PATH, data=body, headers=headers, timeout=10).raise_for_status()

    parts = [bodies[n::threads] for n in range(threads)]
    workers = [threading.Thread(target=post, args=(part,)) for part in parts]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return count / (time.perf_counter() - started)


# --- subprocess phases (run with Django set up on the phase's database) -------------------------


def phase(name: str, args: argparse.Namespace) -> None:
    import django

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pepbridge.settings")
    django.setup()
    result = {"enqueue": _enqueue, "window": _window, "write-cost": _write_cost,
              "naive-enqueue": _naive_enqueue, "seed": _seed, "claim-cost": _claim_cost,
              "health-cost": _health_cost}[name](args)  # fmt: skip
    print(json.dumps(result))


def _enqueue(args: argparse.Namespace) -> dict[str, Any]:
    from django.db import transaction

    from events.outbox import PepMessage, enqueue

    for start in range(0, args.count, 500):
        with transaction.atomic():
            for n in range(start, min(start + 500, args.count)):
                body = payload(n, args.players)
                enqueue(PepMessage("money_transaction", "POST", PATH, body, body["playerId"]))
    return {"enqueued": args.count}


def _window(args: argparse.Namespace) -> dict[str, Any]:
    from django.db.models import Max, Min

    from events.models import DeliveryAttempt, OutboxMessage

    delivered = OutboxMessage.objects.filter(status="delivered")
    span = delivered.aggregate(last=Max("delivered_at"))
    first = DeliveryAttempt.objects.aggregate(first=Min("started_at"))["first"]
    seconds = (span["last"] - first).total_seconds() if first and span["last"] else None
    return {"delivered": delivered.count(), "seconds": seconds}


def _write_cost(args: argparse.Namespace) -> dict[str, Any]:
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from events.outbox import PepMessage, enqueue

    times, inserts, lanes = [], [], []
    for n in range(args.count):
        body = payload(10_000_000 + n)
        message = PepMessage("money_transaction", "POST", PATH, body, body["playerId"],
                             dedup_key=f"money:{body['transactionId']}")  # fmt: skip
        with transaction.atomic(), CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            enqueue(message)
            times.append((time.perf_counter() - started) * 1000)
        sql = [q["sql"].lstrip().upper() for q in queries.captured_queries]
        # INSERTs into the outbox table; the lane upsert (events/lanes.py) is counted apart.
        inserts.append(sum(s.startswith('INSERT INTO "EVENTS_OUTBOXMESSAGE"') for s in sql))
        lanes.append(sum(s.startswith('INSERT INTO "EVENTS_OUTBOXLANE"') for s in sql))
    return {"median_ms": statistics.median(times), "inserts": max(inserts),
            "lane_upserts": max(lanes)}  # fmt: skip


SEED_SQL = """
INSERT INTO events_outboxmessage (message_type, method, path, body, fingerprint, player_id,
    lane, occurred_at, created_at, status, trigger, attempts, retry_step, next_attempt_at,
    claimed_by, last_error_class, last_error)
SELECT 'money_transaction', 'POST', %(path)s,
    '{"playerId":"p-' || (n %% %(players)s) || '","transactionId":"seed-' || n || '"}',
    md5(n::text), 'p-' || (n %% %(players)s), 'p-' || (n %% %(players)s),
    now() - interval '1 hour' + n * interval '1 microsecond', now(), 'pending', 'scheduled',
    0, 0, now() - interval '1 hour', '', '', ''
FROM generate_series(%(start)s, %(stop)s - 1) AS n
"""
SEED_LANES = """
INSERT INTO events_outboxlane (player_id, next_attempt_at, lease_expires_at, claimed_by, version)
SELECT lane, MIN(next_attempt_at), NULL, '', 0 FROM events_outboxmessage
WHERE status = 'pending' AND lane IS NOT NULL GROUP BY lane ON CONFLICT DO NOTHING
"""


def _seed(args: argparse.Namespace) -> dict[str, Any]:
    """A PostgreSQL backlog in bulk (INSERT ... SELECT): it is the claim that is measured."""
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        for start in range(0, args.count, 100_000):
            stop = min(start + 100_000, args.count)
            params = {"path": PATH, "players": args.players, "start": start, "stop": stop}
            cursor.execute(SEED_SQL, params)
        cursor.execute(SEED_LANES)
        cursor.execute("ANALYZE events_outboxmessage")
        cursor.execute("ANALYZE events_outboxlane")
    return {"seeded": args.count, "seconds": time.perf_counter() - started}


def _claim_cost(args: argparse.Namespace) -> dict[str, Any]:
    """Median time of one claim of 100 rows, and of one of 100 lanes (rolled back each time,
    so every claim sees the same backlog).

    A lane brings at least its next LANE_RUN_MIN rows, so 100 rows are 10 lanes of a backlog;
    the 100-lane claim (1,000 rows here, a worker's claim takes up to 64 lanes) is printed
    beside it, since a claim's cost has a part per lane and a part per row.
    """
    from django.db import transaction
    from django.utils import timezone

    from events.services.claim import LANE_RUN_MIN, claim_lanes

    def median_ms(max_lanes: int) -> tuple[float, Any]:
        times = []
        for _ in range(args.count):
            with transaction.atomic():
                started = time.perf_counter()
                claim = claim_lanes(worker="bench", limit=100, now=timezone.now(),
                                    max_lanes=max_lanes)  # fmt: skip
                times.append((time.perf_counter() - started) * 1000)
                transaction.set_rollback(True)
        if not claim.lanes:  # claimed without their lanes: the seed no longer matches the outbox
            raise SystemExit("claim-cost: the seeded rows were not claimed through their lanes")
        return statistics.median(times), claim

    rows_ms, rows_claim = median_ms(100 // LANE_RUN_MIN)
    lanes_ms, lanes_claim = median_ms(100)
    return {"claim_ms": rows_ms, "claimed": len(rows_claim.rows),
            "claim_100_lanes_ms": lanes_ms, "claimed_100_lanes": len(lanes_claim.rows)}  # fmt: skip


def _health_cost(args: argparse.Namespace) -> dict[str, Any]:
    """Median time of the /healthz payload (the dashboard's figures and the delivery block)."""
    from pepbridge.health import health_payload

    times = []
    for _ in range(args.count):
        started = time.perf_counter()
        payload = health_payload()
        times.append((time.perf_counter() - started) * 1000)
    return {"health_ms": statistics.median(times), "pending": payload["delivery"]["pending"]}


def _naive_enqueue(args: argparse.Namespace) -> dict[str, Any]:
    from django_q.tasks import async_task

    from pepbridge.pep import wire

    for n in range(args.count):
        async_task("bench.delivery.naive_send", args.url + PATH, wire.dumps(payload(n)),
                   group="bench-naive")  # fmt: skip
    return {"queued": args.count}


def naive_send(url: str, body: bytes) -> int:
    """(c) The naive task: a new connection per message (requests.post opens a fresh session)."""
    import requests

    headers = {"Content-Type": "application/json", "Authorization": "Bearer bench-token"}
    response = requests.post(url, data=body, headers=headers, timeout=10)
    response.raise_for_status()
    return response.status_code


# --- orchestration -------------------------------------------------------------------------------


def bench_env(database_url: str, var_dir: Path, sink_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OUTBOX_", "Q_", "PEP_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="pepbridge.settings",
        PYTHONPATH=str(ROOT),
        DEBUG="false",  # no query log growing in the worker
        SECRET_KEY="bench-" + "x" * 50,
        DATABASE_URL=database_url,
        PEPBRIDGE_VAR_DIR=str(var_dir),
        PEP_BASE_URL=sink_url,
        PEP_CLIENT_ID="bench",
        PEP_CLIENT_SECRET="bench-secret",
        OUTBOX_KICK_ON_COMMIT="false",
        LOG_LEVEL="warning",
        Q_WORKERS="1",
        Q_POLL="0.05",
        Q_SAVE_LIMIT="0",
    )
    return env


def run_phase(env: dict[str, str], name: str, **options: Any) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--phase", name]
    for key, value in options.items():
        argv += [f"--{key}", str(value)]
    done = subprocess.run(argv, env=env, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def migrate(env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, MANAGE, "migrate", "--no-input"], env=env,
                          capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    if done.returncode:
        raise SystemExit(f"migrate failed:\n{done.stderr[-2000:]}")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def drain_with_workers(
    env: dict[str, str],
    count: int,
    workers: int,
    expected: int | None = None,
    players: int = 1000,
    seconds: float = 900,
) -> dict[str, Any]:
    """Enqueue `count` messages, then let `workers` outbox_drain processes deliver them all.

    The workers run until nothing is left (`outbox_drain` without --forever) and the rate is
    taken from the database: first attempt to last delivery, so process start-up is not
    counted. Nothing but cheap /proc reads runs beside them, to leave the CPUs to the workers.
    """
    if count:
        run_phase(env, "enqueue", count=count, players=players)
    argv = [sys.executable, MANAGE, "outbox_drain", "--max-seconds", str(seconds)]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [subprocess.Popen(argv, env=env, cwd=ROOT, **quiet) for _ in range(workers)]
    memory: list[float] = []
    try:
        while procs[0].poll() is None:
            memory.append(rss_mb(procs[0].pid))
            time.sleep(0.5)
        for proc in procs:
            proc.wait(timeout=900)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    window = run_phase(env, "window")
    expected = count if expected is None else expected
    if expected >= 0 and window["delivered"] != expected:
        raise SystemExit(f"{window['delivered']} delivered, expected {expected}")
    return {"per_s": window["delivered"] / window["seconds"], "rss_mb": memory}


def latency_hiding(tmp: Path, sink_url: str, control: SinkControl, count: int) -> float:
    """One SQLite worker's rate with the sink answering after 20 ms (a cloud API's RTT)."""
    env = bench_env(f"sqlite:///{tmp / 'latency.sqlite3'}", tmp, sink_url)
    migrate(env)
    control.delay_ms.value = 20
    try:
        return drain_with_workers(env, count, 1)["per_s"]
    finally:
        control.delay_ms.value = 0


def hot_player(tmp: Path, sink_url: str, count: int) -> float:
    """One SQLite worker's rate on `count` messages of a single player (sink answering at once)."""
    env = bench_env(f"sqlite:///{tmp / 'hot.sqlite3'}", tmp, sink_url)
    migrate(env)
    return drain_with_workers(env, count, 1, players=1)["per_s"]


def backlog_runs(tmp: Path, sink_url: str, deep: int) -> dict[str, Any]:
    """PostgreSQL: claim and /healthz cost, and one worker's drain rate, at 10,000 and `deep`."""
    import pg

    results: dict[str, Any] = {"backlog_deep": deep}
    try:
        for label, size in (("10k", 10_000), ("deep", deep)):
            pg_env = bench_env(pg.fresh_database(PG_DB), tmp, sink_url)
            migrate(pg_env)
            seeded = run_phase(pg_env, "seed", count=size, players=1000)
            print(f"seeded {size} pending rows in {seeded['seconds']:.0f} s")
            claims = run_phase(pg_env, "claim-cost", count=21)
            claim = claims["claim_ms"]
            health = run_phase(pg_env, "health-cost", count=5)["health_ms"]
            rate = drain_with_workers(pg_env, 0, 1, expected=-1, seconds=20)["per_s"]
            lanes_ms = claims["claim_100_lanes_ms"]
            results.update({f"claim_ms_{label}": claim, f"health_ms_{label}": health,
                            f"claim_100_lanes_ms_{label}": lanes_ms,
                            f"backlog_rate_{label}_per_s": rate})  # fmt: skip
            print(f"{size} pending: claim of {claims['claimed']} rows {claim:.1f} ms "
                  f"(of 100 lanes, {claims['claimed_100_lanes']} rows: {lanes_ms:.1f} ms), "
                  f"/healthz {health:.1f} ms, {rate:.0f}/s")  # fmt: skip
    except pg.PostgresUnavailable as exc:
        results["backlog_skipped"] = str(exc)
        print(f"backlog runs skipped: {exc}")
    finally:
        pg.drop_database(PG_DB)
    return results


def sqlite_count(env: dict[str, str], sql: str) -> int:
    """Read a count straight from the SQLite file: no Django process competing for the CPU."""
    path = env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(path, timeout=30) as conn:
        return int(conn.execute(sql).fetchone()[0])


def sqlite_seconds(env: dict[str, str], sql: str) -> float:
    path = env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(path, timeout=30) as conn:
        return float(conn.execute(sql).fetchone()[0])


def naive(env: dict[str, str], sink_url: str, count: int) -> float:
    cluster = subprocess.Popen([sys.executable, MANAGE, "qcluster"], env=env, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        run_phase(env, "naive-enqueue", count=1, url=sink_url)  # warm up: cluster is ready
        while sqlite_count(env, NAIVE_DONE) < 1:
            time.sleep(0.2)
        run_phase(env, "naive-enqueue", count=count, url=sink_url)
        while sqlite_count(env, NAIVE_DONE) < count + 1:
            time.sleep(0.05)
        # Like (b): first task's start to last task's end, so enqueueing is not counted.
        return count / sqlite_seconds(env, NAIVE_WINDOW)
    finally:
        cluster.terminate()
        cluster.wait(timeout=30)


def postgres_runs(tmp: Path, sink_url: str, count: int) -> dict[str, Any]:
    """(b) on PostgreSQL with 1, 2 and 4 workers; a reason instead of figures when it can't."""
    # Imported here, not at the top: django-q2 workers import this module as `bench.delivery`
    # for the naive task, where bench/ is not on the path.
    import pg  # bench/pg.py: a fresh PostgreSQL database, reached as .ci/run reaches it

    results: dict[str, Any] = {}
    try:
        for workers in (1, 2, 4):
            pg_env = bench_env(pg.fresh_database(PG_DB), tmp, sink_url)
            migrate(pg_env)
            rate = drain_with_workers(pg_env, count, workers)["per_s"]
            results[f"postgres_{workers}_workers_per_s"] = rate
            print(f"(b) pepbridge, {workers} worker(s) (PostgreSQL): {rate:.0f}/s")
    except pg.PostgresUnavailable as exc:
        results["postgres_skipped"] = str(exc)
        print(f"PostgreSQL runs skipped: {exc}")
    finally:
        pg.drop_database(PG_DB)
    return results


def main(args: argparse.Namespace) -> dict[str, Any]:
    sink, sink_url, control = start_sink()
    tmp = Path(tempfile.mkdtemp(prefix="pepbridge-bench-"))
    results: dict[str, Any] = {}
    try:
        results["ceiling_per_s"] = ceiling(sink_url, args.count)
        print(f"(a) ceiling, one keep-alive session: {results['ceiling_per_s']:.0f}/s")
        env = bench_env(f"sqlite:///{tmp / 'bench.sqlite3'}", tmp, sink_url)
        migrate(env)
        one = drain_with_workers(env, args.count, 1)
        results["events_per_s"] = one["per_s"]
        print(f"(b) pepbridge, 1 worker (SQLite): {one['per_s']:.0f}/s")
        # The ceiling again, right after: on a shared machine the best of the two is the
        # conservative reference.
        again = ceiling(sink_url, args.count)
        results["ceiling_per_s"] = max(results["ceiling_per_s"], again)
        print(f"(a) ceiling, measured again: {again:.0f}/s")
        threads = 32  # the worker's default OUTBOX_MAX_IN_FLIGHT
        results["ceiling_threads_per_s"] = ceiling(sink_url, args.count, threads)
        print(f"(a') {threads} sessions side by side, no database: "
              f"{results['ceiling_threads_per_s']:.0f}/s")  # fmt: skip
        results["latency_20ms_per_s"] = latency_hiding(tmp, sink_url, control, args.count)
        print(f"(b) pepbridge, 1 worker, sink answering after 20 ms: "
              f"{results['latency_20ms_per_s']:.0f}/s")  # fmt: skip
        results["hot_player_per_s"] = hot_player(tmp, sink_url, 1000)
        print(f"(b) 1,000 messages of one player: {results['hot_player_per_s']:.0f}/s")
        results["one_percent_failing_per_s"] = one_percent_failing(
            tmp, sink_url, control.failing, args
        )
        print(f"(b) with 1% of players failing: {results['one_percent_failing_per_s']:.0f}/s")
        results["naive_per_s"] = naive(env, sink_url, args.naive_count)
        print(f"(c) naive, one django-q2 task per message: {results['naive_per_s']:.1f}/s")
        results.update(run_phase(env, "write-cost", count=args.write_count))
        print(f"outbox write: median {results['median_ms']:.3f} ms, {results['inserts']} INSERT")
        results.update(postgres_runs(tmp, sink_url, args.count))
        if args.backlog:
            results.update(backlog_runs(tmp, sink_url, args.backlog))
        if args.memory:
            results.update(memory_run(tmp, sink_url, args.memory))
    finally:
        sink.terminate()
        shutil.rmtree(tmp, ignore_errors=True)
    return results


def one_percent_failing(tmp: Path, sink_url: str, failing: Any, args: argparse.Namespace) -> float:
    """Rate of the healthy players' messages while 1% of players get 503 on every send."""
    env = bench_env(f"sqlite:///{tmp / 'failing.sqlite3'}", tmp, sink_url)
    migrate(env)
    bad = sum(1 for n in range(args.count) if n % 100 == 0)  # players p-0, p-100, ...
    failing.value = 1
    try:
        return drain_with_workers(env, args.count, 1, expected=args.count - bad)["per_s"]
    finally:
        failing.value = 0


def memory_run(tmp: Path, sink_url: str, count: int) -> dict[str, Any]:
    env = bench_env(f"sqlite:///{tmp / 'memory.sqlite3'}", tmp, sink_url)
    migrate(env)
    run = drain_with_workers(env, count, 1)
    samples = run["rss_mb"]
    warm = samples[min(len(samples) - 1, max(1, len(samples) // 10))]
    growth = samples[-1] - warm
    print(f"worker memory over {count} messages: {warm:.1f} MB -> {samples[-1]:.1f} MB")
    return {"memory_messages": count, "memory_growth_mb": growth, "memory_final_mb": samples[-1]}


def summary(results: dict[str, Any]) -> dict[str, Any]:
    results["ratio_vs_ceiling"] = results["events_per_s"] / results["ceiling_per_s"]
    # Not a target: how much of the gap the threads alone explain (docs/benchmarks.md).
    threaded = results["ceiling_threads_per_s"]
    results["ratio_vs_threaded_ceiling"] = results["events_per_s"] / threaded
    results["ratio_vs_naive"] = results["events_per_s"] / results["naive_per_s"]
    healthy = results["one_percent_failing_per_s"] / results["events_per_s"]
    results["one_percent_failing_ratio"] = healthy
    results["targets"] = TARGETS
    results["met"] = {
        "ratio_vs_ceiling": results["ratio_vs_ceiling"] >= TARGETS["ratio_vs_ceiling"],
        "ratio_vs_naive": results["ratio_vs_naive"] >= TARGETS["ratio_vs_naive"],
        "write_median_ms": results["median_ms"] <= TARGETS["write_median_ms"],
        "write_inserts": results["inserts"] <= TARGETS["write_inserts"],
        "one_percent_failing_ratio": healthy >= TARGETS["one_percent_failing_ratio"],
    }
    results["latency_hiding_ratio"] = results["latency_20ms_per_s"] / results["events_per_s"]
    results["hot_player_ratio"] = results["hot_player_per_s"] / results["events_per_s"]
    met = results["met"]
    met["latency_hiding_ratio"] = results["latency_hiding_ratio"] >= TARGETS["latency_hiding_ratio"]
    met["hot_player_ratio"] = results["hot_player_ratio"] >= TARGETS["hot_player_ratio"]
    if "backlog_rate_deep_per_s" in results:
        ratio = results["backlog_rate_deep_per_s"] / results["backlog_rate_10k_per_s"]
        results["backlog_ratio"] = ratio
        met["backlog_ratio"] = ratio >= TARGETS["backlog_ratio"]
        if results["backlog_deep"] >= 1_000_000:  # the targets are stated at a million rows
            results["claim_ms_1m"] = results["claim_ms_deep"]
            results["health_ms_1m"] = results["health_ms_deep"]
            met["claim_ms_1m"] = results["claim_ms_1m"] <= TARGETS["claim_ms_1m"]
            met["health_ms_1m"] = results["health_ms_1m"] <= TARGETS["health_ms_1m"]
    if "memory_growth_mb" in results:
        met = results["memory_growth_mb"] <= TARGETS["memory_growth_mb"]
        results["met"]["memory_growth_mb"] = met
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in results.items()}


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000, help="messages for (a) and (b)")
    parser.add_argument("--naive-count", type=int, default=200, help="messages for (c)")
    parser.add_argument("--write-count", type=int, default=1000, help="outbox writes timed")
    parser.add_argument(
        "--memory", type=int, default=100_000, help="messages for the memory run (0 skips it)"
    )
    parser.add_argument(
        "--backlog", type=int, default=100_000,
        help="pending rows of the deep PostgreSQL run (1000000 gives the 1M figures; 0 skips)",
    )  # fmt: skip
    parser.add_argument("--players", type=int, default=1000, help=argparse.SUPPRESS)
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse()
    if arguments.phase:
        phase(arguments.phase, arguments)
    else:
        print(json.dumps(summary(main(arguments))))
