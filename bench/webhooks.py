"""Benchmark PEP's webhook intake against a real server, beside a minimal view.

    .venv/bin/python bench/webhooks.py [--seconds 8] [--rate 200] [--clients 32] [--sqlite]

Standalone, set up like bench/operator_api.py: a fresh PostgreSQL database (or SQLite with
`--sqlite`), migrated, and gunicorn with production settings (gthread workers) on a free
loopback port, with one signature key. Every request is what PEP sends: 10 events, signed
(`x-gmz-pep-webhook-timestamp`, `x-gmz-pep-webhook-signature`), all new, so each request takes
the full path (verify, parse, check, store the delivery, queue the worker).
Bodies are signed before the clock starts, so the load generator's HMAC costs no server time.

1. closed loop, as fast as the server answers: requests/s of a minimal view (same DRF view
   base, no authentication, no database: reads the body and answers 202) and of the intake;
2. open loop at a fixed rate (default 200 requests/s, i.e. 2000 events/s): p50/p99 of the
   intake, measured from each request's scheduled send time, so a stalled server cannot hide
   its queue.

No worker runs during the load: the intake is what is measured. Afterwards one worker splits
the stored deliveries into inbox events for `--split-seconds` (webhooks/splitting.py), then runs
the handlers on them for as long; both rates are printed, the split's beside the rate the paced
phase offered. PEP's 202 waits for the intake only, but a worker slower than PEP's sustained
rate builds a backlog. The last line printed is one JSON object with the figures and targets.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import gunicorn_server
import pg  # bench/pg.py: a fresh PostgreSQL database, reached as .ci/run reaches it
from server_env import PRODUCTION_LIKE

ROOT = Path(__file__).resolve().parent.parent
INTAKE = "/api/webhooks/v1/pep-events"
MINIMAL = "/bench/minimal"
KEY = "bench-webhook-key-" + "k" * 32
EVENTS_PER_REQUEST = 10
TARGET_P99_MS = 50.0
TARGET_RATE = 200
TARGET_RATIO = 0.5


# --- what the server process loads (gunicorn "bench.webhooks:build_wsgi()") --------------------


def build_wsgi() -> Any:
    """The project's WSGI app plus a minimal view with the intake's DRF configuration."""
    return gunicorn_server.wsgi_with_minimal_view(
        "webhooks.views.PepEventsView",
        {"received": EVENTS_PER_REQUEST, "new": 0},
        read_body=True,
    )


# --- set-up ----------------------------------------------------------------------------------


def _database(workdir: Path, sqlite: bool) -> tuple[str, str, str | None]:
    """(DATABASE_URL, label, PostgreSQL database to drop afterwards or None); no quiet fallback."""
    if sqlite:
        return f"sqlite:///{workdir / 'bench.sqlite3'}", "sqlite", None
    name = f"pepbridge_bench_wh_{os.getpid()}"
    try:
        return pg.fresh_database(name), "postgresql", name
    except pg.PostgresUnavailable as exc:
        needed = f"PostgreSQL is needed for this benchmark ({exc}); or pass --sqlite"
        raise SystemExit(needed) from None


def _env(database_url: str, workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        PEPBRIDGE_VAR_DIR=str(workdir),
        **PRODUCTION_LIKE,
        PEP_WEBHOOK_SECRETS=KEY,
        # The project first: its app `webhooks` must win over this file (bench/webhooks.py).
        PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'bench'}",
        DJANGO_SETTINGS_MODULE="pepbridge.settings",
    )
    return env


# --- load ------------------------------------------------------------------------------------


def _signed_body(player_base: int) -> tuple[bytes, dict[str, str]]:
    """One request as PEP sends it: 10 new events (level ups of 10 players), signed."""
    stamp = str(int(time.time()))
    date = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    nonce = uuid.uuid4().hex[:12]
    events = [
        {
            "eventName": "level_up",
            "payload": [
                {"key": "PlayerId", "type": "string", "value": f"p-{player_base + i}"},
                {"key": "CurrentLevel", "type": "number", "value": str(i + 2)},
                {"key": "XpBalance", "type": "number", "value": str((i + 2) * 100)},
                {"key": "CurrentRankExternalName", "type": "string", "value": "Gold"},
                {"key": "Timestamp", "type": "date", "value": date},
                {"key": "Nonce", "type": "string", "value": nonce},
            ],
            "eventDate": date,
        }
        for i in range(EVENTS_PER_REQUEST)
    ]
    body = json.dumps({"events": events}, separators=(",", ":")).encode()
    signature = hmac.new(KEY.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "x-gmz-pep-webhook-timestamp": stamp,
        "x-gmz-pep-webhook-signature": signature,
    }
    return body, headers


def _signed_requests(job: dict[str, Any], index: int) -> gunicorn_server.Requests:
    """Enough signed bodies for the run, made before it starts (the open loop's share, or a
    closed loop's generous guess); past them, each is signed when sent (never one sent twice:
    that would be a 409 replay)."""
    per_thread = int(job["budget"] / job["threads_total"]) + 2
    base = (_RUN[0] * 100 + job["process"]) * 1_000_000 + index * 10_000
    bodies = [_signed_body(base + n * 10) for n in range(per_thread)]
    return lambda n: bodies[n] if n < len(bodies) else _signed_body(base + n * 10)


_RUN = [0]  # players differ per run, so every event is new


def _load(port: int, path: str, *, seconds: float, clients: int, rate: float) -> dict[str, Any]:
    """Run `clients` connections over 2 processes; rate 0 = closed loop (as fast as answered)."""
    _RUN[0] += 1
    return gunicorn_server.load(
        port,
        path,
        _signed_requests,
        seconds=seconds,
        clients=clients,
        rate=rate,
        lead=1.5,  # time to sign the bodies first
        extra={"budget": (rate or 1500) * seconds},
    )


# --- the worker's half: splitting what the intake stored ------------------------------------


def measure_split(seconds: float) -> None:
    """In a process of its own (Django set up from the env): one worker splitting the stored
    deliveries for up to `seconds`; prints one JSON line with what it split and how fast."""
    import django

    sys.path.insert(0, str(ROOT))  # the app `webhooks`, not this file (run from bench/)
    django.setup()
    from webhooks.models import WebhookDelivery
    from webhooks.processing import inbox_process_pending
    from webhooks.splitting import deliveries_split

    waiting = WebhookDelivery.objects.filter(split_at__isnull=True).count()
    split = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds and (done := deliveries_split()):
        split += done
    elapsed = time.perf_counter() - start
    per_s = split * EVENTS_PER_REQUEST / elapsed if elapsed else 0.0
    # Then the handlers (each event its own transaction: a loyalty snapshot per level up).
    start = time.perf_counter()
    processed = inbox_process_pending(max_seconds=seconds)
    processed_per_s = processed / (time.perf_counter() - start)
    print(
        json.dumps(
            {
                "waiting": waiting,
                "split": split,
                "events_per_s": round(per_s, 1),
                "processed": processed,
                "processed_per_s": round(processed_per_s, 1),
            }
        )
    )


def _split_rate(env: dict[str, str], seconds: float) -> dict[str, Any]:
    answer = subprocess.run(
        [sys.executable, __file__, "--measure-split", str(seconds)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(answer.stdout.strip().splitlines()[-1])


# --- main ------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--sqlite", action="store_true", help="measure SQLite (no targets)")
    parser.add_argument("--rate", type=float, default=TARGET_RATE)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--split-seconds", type=float, default=10.0)
    parser.add_argument("--measure-split", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_split is not None:
        measure_split(args.measure_split)
        return 0

    workdir = Path(tempfile.mkdtemp(prefix="pepbridge-bench-wh-"))
    database_url, database, pg_name = _database(workdir, args.sqlite)
    env = _env(database_url, workdir)
    server = None
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        port = gunicorn_server.free_port()
        server = gunicorn_server.start(
            # This file as `bench.webhooks` (a namespace package from ROOT): `webhooks` is the app.
            "bench.webhooks:build_wsgi()",
            env,
            port,
            args.workers,
            args.threads,
        )
        _load(port, MINIMAL, seconds=1, clients=4, rate=0)  # warm-up
        _load(port, INTAKE, seconds=1, clients=4, rate=0)
        # Alternate the two closed loops so a change in the machine's load hits both alike.
        load = {"seconds": args.seconds / 2, "clients": args.clients, "rate": 0}
        runs = [_load(port, path, **load) for path in (MINIMAL, INTAKE) * 2]
        minimal, intake = gunicorn_server.merge(runs[0::2]), gunicorn_server.merge(runs[1::2])
        paced = _load(port, INTAKE, seconds=args.seconds, clients=args.clients, rate=args.rate)
        gunicorn_server.stop(server)
        server = None
        split = _split_rate(env, args.split_seconds)
    finally:
        if server is not None:
            gunicorn_server.stop(server)
        if pg_name:
            pg.drop_database(pg_name)
        shutil.rmtree(workdir, ignore_errors=True)

    ratio = round(intake["requests_per_s"] / minimal["requests_per_s"], 3)
    print(
        f"database={database} workers={args.workers} threads={args.threads} cpus={os.cpu_count()}"
        f" events_per_request={EVENTS_PER_REQUEST}"
    )
    for label, figures in (
        ("minimal view, closed loop", minimal),
        ("webhook intake, closed loop", intake),
        (f"webhook intake, {args.rate:.0f}/s open loop", paced),
    ):
        shown = {k: v for k, v in figures.items() if k not in ("latencies", "elapsed")}
        print(f"{label + ':':36} {json.dumps(shown)}")
    print(f"{'one worker splitting the backlog:':36} {json.dumps(split)}")
    offered = args.rate * EVENTS_PER_REQUEST
    non_202 = sum(
        v for figures in (paced, intake) for k, v in figures["statuses"].items() if k != "202"
    )
    result = {
        "database": database,
        "p99_ms": paced["p99_ms"],
        "p50_ms": paced["p50_ms"],
        "rate_per_s": args.rate,
        "events_per_request": EVENTS_PER_REQUEST,
        "achieved_rate_per_s": paced["requests_per_s"],
        "requests_per_s": intake["requests_per_s"],
        "minimal_requests_per_s": minimal["requests_per_s"],
        "ratio_vs_minimal": ratio,
        "non_202": non_202,
        # The worker's half, not a target of the intake: events one worker splits per second,
        # against the events the paced phase offered per second.
        "split_events_per_s": split["events_per_s"],
        "split_vs_offered": round(split["events_per_s"] / offered, 3) if offered else None,
        "processed_events_per_s": split["processed_per_s"],
        "target_p99_ms": TARGET_P99_MS,
        "target_rate_per_s": TARGET_RATE,
        "target_ratio_vs_minimal": TARGET_RATIO,
        "meets_targets": database == "postgresql"
        and non_202 == 0
        and paced["p99_ms"] <= TARGET_P99_MS
        and ratio >= TARGET_RATIO,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
