"""Ingestion throughput: events per second through the batch API, and one event through Python.

    .venv/bin/python bench/ingest.py [--batches 30] [--clients 4] [--workers 2]

Standalone: each database gets a fresh one (PostgreSQL over the Unix socket, prepared as `.ci/run`
prepares it; SQLite in a temporary file), migrated from scratch, in a child process. The child
starts gunicorn with production settings on a free loopback port, obtains an OAuth token with the
`ingest` scope, and posts batches of 1,000 casino rounds (BET + WIN each, the heaviest common
event) from several client threads with keep-alive. Then it times
`players.event_ingestion.record_event` for one event at a time, each in its own transaction,
as a Django operator would call it.
The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import gunicorn_server
import pg  # bench/pg.py: a fresh PostgreSQL database, reached as .ci/run reaches it
from server_env import PRODUCTION_LIKE

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PG_DB = "pepbridge_bench_ingest"
TARGETS = {"events_per_s": 2000, "service_median_ms": 2.0}
BATCH = 1000


def main() -> None:
    options = _arguments()
    if options.child:
        print(json.dumps(_child(options)))
        return
    results: dict[str, Any] = {}
    load_before = os.getloadavg()[0]
    try:
        results["postgresql"] = _run_child(pg.fresh_database(PG_DB), options)
    except pg.PostgresUnavailable as exc:
        results["postgres_skipped"] = str(exc)
        print(f"PostgreSQL unavailable ({exc}); measuring SQLite only.")
    finally:
        pg.drop_database(PG_DB)
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = _run_child(f"sqlite:///{tmp}/bench.sqlite3", options)
    _report(results, (load_before, os.getloadavg()[0]))


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=30, help="Batches of 1,000 events.")
    parser.add_argument("--clients", type=int, default=4, help="Concurrent client threads.")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes.")
    parser.add_argument("--service-events", type=int, default=500)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


# --- parent -----------------------------------------------------------------------------------


def _run_child(database_url: str, options: argparse.Namespace) -> dict[str, Any]:
    env = _child_env(database_url)
    args = [
        PYTHON,
        __file__,
        "--child",
        f"--batches={options.batches}",
        f"--clients={options.clients}",
        f"--workers={options.workers}",
        f"--service-events={options.service_events}",
    ]
    done = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        sys.exit(f"benchmark child failed on {database_url.split(':')[0]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _child_env(database_url: str) -> dict[str, str]:
    var_dir = tempfile.mkdtemp(prefix="pepbridge-bench-")
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "pepbridge.settings",
        "PEPBRIDGE_VAR_DIR": var_dir,
        **PRODUCTION_LIKE,
        "OUTBOX_KICK_ON_COMMIT": "false",  # measure ingestion, not django-q2's broker
        "API_THROTTLE_RATE": "10000/s",  # measure ingestion, not the per-client throttle
    }


def _report(results: dict[str, Any], load: tuple[float, float]) -> None:
    for name, figures in results.items():
        print(
            f"{name:10} batch API: {figures['events_per_s']:8,.0f} events/s "
            f"({figures['events']:,} events in {figures['seconds']:.2f} s, "
            f"{figures['clients']} clients, {figures['workers']} workers; mixed events: "
            f"{figures['mixed_events_per_s']:,.0f}/s); "
            f"record_event (round, in the caller's transaction): median "
            f"{figures['service_median_ms']:.2f} ms, p99 {figures['service_p99_ms']:.2f} ms; "
            f"with its own commit: median {figures['service_with_commit_median_ms']:.2f} ms"
        )
    print(f"load average {load[0]:.2f} before, {load[1]:.2f} after, on {os.cpu_count()} CPUs")
    main_db = results.get("postgresql") or results["sqlite"]
    summary = {
        "events_per_s": round(main_db["events_per_s"]) if "postgresql" in results else None,
        "service_median_ms": round(main_db["service_median_ms"], 3),
        "events_per_s_sqlite": round(results["sqlite"]["events_per_s"]),
        "mixed_events_per_s": round(main_db["mixed_events_per_s"]),
        "service_median_ms_sqlite": round(results["sqlite"]["service_median_ms"], 3),
        "service_with_commit_median_ms": round(main_db["service_with_commit_median_ms"], 3),
        "postgresql": "postgresql" in results,
        "cpus": os.cpu_count(),
        "load_average_before_after": [round(load[0], 2), round(load[1], 2)],
        "event": "casino_round (BET+WIN), batches of 1,000",
        "targets": {
            "events_per_s_min": TARGETS["events_per_s"],
            "service_median_ms_max": TARGETS["service_median_ms"],
        },
        "meets_targets": "postgresql" in results
        and main_db["events_per_s"] >= TARGETS["events_per_s"]
        and main_db["service_median_ms"] <= TARGETS["service_median_ms"],
    }
    print(json.dumps(summary))


# --- child: one database ----------------------------------------------------------------------


def _child(options: argparse.Namespace) -> dict[str, Any]:
    import django

    sys.path.insert(0, str(ROOT))
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    _make_players(100)
    client_id, secret = _ingest_client()
    port = gunicorn_server.free_port()
    server = gunicorn_server.start("pepbridge.wsgi", os.environ.copy(), port, options.workers, 2)
    try:
        token = _token(port, client_id, secret)
        figures = _post_batches(port, token, options.batches, options.clients)
        mixed = _post_batches(
            port, token, options.batches, options.clients, _mixed, offset=50_000_000
        )
        figures["mixed_events_per_s"] = mixed["events_per_s"]
    finally:
        gunicorn_server.stop(server)
    figures.update(_time_service(options.service_events))
    figures["workers"] = options.workers
    return figures


def _make_players(count: int) -> None:
    from players.models import Player

    Player.objects.bulk_create(Player(player_id=f"p-{i}", currency="EUR") for i in range(count))


def _ingest_client() -> tuple[str, str]:
    """A fresh OAuth client with the ingest scope, through the project's own command."""
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("create_pep_client", "bench-ingest", "--scope", "ingest", "--json", stdout=out)
    created = json.loads(out.getvalue())
    return created["client_id"], created["client_secret"]


def _token(port: int, client_id: str, secret: str) -> str:
    import requests

    answer = requests.post(
        f"http://127.0.0.1:{port}/oauth/token",
        data={"grant_type": "client_credentials", "scope": "ingest"},
        auth=(client_id, secret),
        timeout=10,
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def _round(n: int) -> dict[str, Any]:
    tx = {"bonusMoneyAmount": "0", "bonusMoneyBalance": "0", "date": "2024-05-02T08:00:00Z"}
    return {
        "type": "casino_round",
        "playerId": f"p-{n % 100}",
        "roundId": f"r-{n}",
        "currency": "EUR",
        "gameId": "starburst",
        "gameName": "Starburst",
        "gameCategoryId": "slots",
        "gameCategoryName": "Slots",
        "gameProviderId": "netent",
        "gameProviderName": "NetEnt",
        "transactions": [
            {
                **tx,
                "transactionId": f"t-{n}-b",
                "transactionType": "BET",
                "realMoneyAmount": "2.50",
                "realMoneyBalance": "97.50",
            },
            {
                **tx,
                "transactionId": f"t-{n}-w",
                "transactionType": "WIN",
                "realMoneyAmount": "10",
                "realMoneyBalance": "107.50",
                "betAmount": "2.50",
            },
        ],
    }


def _stamp(n: int) -> str:
    """A distinct past moment per event number (logins and snapshots are keyed by time)."""
    moment = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(milliseconds=n)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _mixed(n: int) -> dict[str, Any]:
    """A quarter each: casino rounds, deposits, logins, balance snapshots."""
    player, when = f"p-{n % 100}", _stamp(n)
    balance = {"realMoneyBalance": "100", "bonusMoneyBalance": "0", "currency": "EUR"}
    kind = n % 4
    if kind == 0:
        return _round(n)
    if kind == 1:
        deposit = {"transactionId": f"d-{n}", "transactionType": "DEPOSIT", "amount": "20"}
        return {
            "type": "money_transaction",
            "playerId": player,
            "date": when,
            "transactionStatus": "APPROVED",
            **deposit,
            **balance,
        }
    if kind == 2:
        return {"type": "login", "playerId": player, "date": when}
    return {"type": "balance_update", "playerId": player, "date": when, **balance}


def _post_batches(
    port: int, token: str, batches: int, clients: int, make: Any = None, offset: int = 0
) -> dict[str, Any]:
    """Post `batches` batches (plus one warm-up per client) and count the accepted events."""
    import requests

    make = make or _round
    url = f"http://127.0.0.1:{port}/ingest/v1/events/batch"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    bodies = [
        json.dumps({"events": [make(offset + b * BATCH + i) for i in range(BATCH)]}).encode()
        for b in range(batches + clients)
    ]
    warmup, timed = bodies[:clients], bodies[clients:]
    accepted: list[int] = []
    lock = threading.Lock()

    def send(queue: list[bytes], count: bool) -> None:
        with requests.Session() as session:
            while True:
                with lock:
                    if not queue:
                        return
                    body = queue.pop()
                answer = session.post(url, data=body, headers=headers, timeout=120)
                if answer.status_code != 202:
                    raise RuntimeError(f"batch answered {answer.status_code}: {answer.text[:300]}")
                if count:
                    with lock:
                        accepted.append(answer.json()["accepted"])

    _run_threads(send, list(warmup), clients, count=False)
    started = time.perf_counter()
    _run_threads(send, list(timed), clients, count=True)
    seconds = time.perf_counter() - started
    events = sum(accepted)
    if events != batches * BATCH:
        raise RuntimeError(f"only {events} of {batches * BATCH} events were accepted")
    return {
        "events": events,
        "seconds": seconds,
        "events_per_s": events / seconds,
        "clients": clients,
    }


def _run_threads(target: Any, queue: list[bytes], clients: int, *, count: bool) -> None:
    threads = [threading.Thread(target=target, args=(queue, count)) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _time_service(count: int) -> dict[str, float]:
    """record_event for one event, called inside the operator's open transaction.

    That is how the service is meant to be used, so the headline excludes the commit, which
    belongs to the operator's own transaction; the same call with its own commit (autocommit
    caller) is reported beside it. The event is a casino round (BET + WIN), the heaviest
    common event.
    """
    from django.db import transaction

    from players.event_ingestion import record_event

    inside, with_commit = [], []
    for n in range(count + 20):
        with transaction.atomic():
            started = time.perf_counter()
            record_event(_round(10_000_000 + n))
            inside.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        record_event(_round(20_000_000 + n))
        with_commit.append((time.perf_counter() - started) * 1000)
    inside, with_commit = inside[20:], with_commit[20:]  # warm-up: imports, first queries
    return {
        "service_median_ms": statistics.median(inside),
        "service_p99_ms": statistics.quantiles(inside, n=100)[98],
        "service_with_commit_median_ms": statistics.median(with_commit),
    }


if __name__ == "__main__":
    main()
