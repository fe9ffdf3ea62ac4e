"""Benchmark PEP's assign-bonus endpoint against a real server, beside a minimal DRF view.

    .venv/bin/python bench/operator_api.py [--seconds 8] [--rate 200] [--clients 32] [--sqlite]

Standalone: it makes its own PostgreSQL database over the Unix socket, prepared as `.ci/run`
prepares it (or SQLite in a temporary directory with `--sqlite`), migrates it, creates PEP's
credentials, a bonus and a player, and starts gunicorn with production settings (gthread
workers) on a free loopback port. Load comes from client processes holding keep-alive
connections:

1. closed loop, as fast as the server answers: requests/s of a minimal authenticated DRF view
   (same authentication and permission as assign-bonus, no database work) and of assign-bonus;
2. open loop at a fixed rate (default 200/s): p50/p99 of assign-bonus, measured from each
   request's scheduled send time, so a stalled server cannot hide its queue.

Every assign-bonus request is new (a fresh requestId): the path that inserts and schedules the
grant. No grant worker runs; the grants are not what is measured. The last line printed is one
JSON object with the figures and the targets.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import gunicorn_server
import pg  # bench/pg.py: a fresh PostgreSQL database, reached as .ci/run reaches it
from server_env import PRODUCTION_LIKE

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
ASSIGN = "/api/bonus/v1/assign-bonus"
MINIMAL = "/bench/minimal"
TARGET_P99_MS = 50.0
TARGET_RATE = 200
TARGET_RATIO = 0.5


# --- what the server process loads (gunicorn "operator_api:build_wsgi()") --------------------


def build_wsgi() -> Any:
    """The project's WSGI app plus a minimal view, authenticated like assign-bonus."""
    return gunicorn_server.wsgi_with_minimal_view(
        "bonuses.views.AssignBonusView", {"ok": True}, read_body=False
    )


# --- set-up ----------------------------------------------------------------------------------


def _database(workdir: Path, sqlite: bool) -> tuple[str, str, str | None]:
    """(DATABASE_URL, label, PostgreSQL database to drop afterwards or None).

    The targets are for PostgreSQL; SQLite only when asked for (`--sqlite`), never as a quiet
    fallback that would report figures for the wrong database.
    """
    if sqlite:
        return f"sqlite:///{workdir / 'bench.sqlite3'}", "sqlite", None
    name = f"pepbridge_bench_{os.getpid()}"
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
        # The per-client limit (6000/min by default) would turn the load into 429s.
        API_THROTTLE_RATE="off",
        PYTHONPATH=f"{ROOT / 'bench'}{os.pathsep}{ROOT}",
        DJANGO_SETTINGS_MODULE="pepbridge.settings",
    )
    return env


SETUP_SCRIPT = """
import json
from decimal import Decimal
from bonuses.models import Bonus
from pepbridge.api.services import oauth_client_create
from players.models import Player
Bonus.objects.create(bonus_id="BENCH-1", name="Bench", bonus_type="cash", amount=Decimal(5),
                     currency="EUR")
Player.objects.create(player_id="p-bench")
issued = oauth_client_create(name="PEP bench", scope="pep")
print(json.dumps({"client_id": issued.client_id, "client_secret": issued.client_secret}))
"""


def _prepare(env: dict[str, str]) -> dict[str, str]:
    """Migrate, add a bonus, a player and PEP's OAuth client; return the client's credentials."""
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    out = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", SETUP_SCRIPT],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def _token_headers(port: int, credentials: dict[str, str]) -> dict[str, str]:
    """Client credentials at /oauth/token, as PEP does; the token then goes in x-authorization."""
    form = urlencode({"grant_type": "client_credentials", **credentials})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", "/oauth/token", body=form, headers={
        "Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    response = conn.getresponse()
    token = json.loads(response.read())
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"token request failed: {response.status} {token}")
    return {"x-authorization": f"Bearer {token['access_token']}"}


# --- load ------------------------------------------------------------------------------------


def _assign_body() -> bytes:
    return json.dumps(
        {
            "requestId": str(uuid.uuid4()),
            "eventDate": "2026-05-01T12:00:00.000Z",
            "playerId": "p-bench",
            "bonusOfferId": "BENCH-1",
        }
    ).encode()


def _assign_requests(job: dict[str, Any], index: int) -> gunicorn_server.Requests:
    """Each request a new assign-bonus (a new requestId), with the token's headers."""
    headers = {**job["headers"], "Content-Type": "application/json"}
    return lambda n: (_assign_body(), headers)


def _load(
    port: int, path: str, headers: dict[str, str], *, seconds: float, clients: int, rate: float
) -> dict[str, Any]:
    """Run `clients` connections over 2 processes; rate 0 = closed loop (as fast as answered)."""
    return gunicorn_server.load(
        port,
        path,
        _assign_requests,
        seconds=seconds,
        clients=clients,
        rate=rate,
        extra={"headers": headers},
    )


# --- main ------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--sqlite", action="store_true", help="measure SQLite (no targets)")
    parser.add_argument("--rate", type=float, default=TARGET_RATE)
    parser.add_argument("--clients", type=int, default=32)
    # The README's production command: gunicorn --workers 4 --threads 4.
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="pepbridge-bench-"))
    database_url, database, pg_name = _database(workdir, args.sqlite)
    env = _env(database_url, workdir)
    server = None
    try:
        credentials = _prepare(env)
        port = gunicorn_server.free_port()
        server = gunicorn_server.start(
            "operator_api:build_wsgi()", env, port, args.workers, args.threads
        )
        headers = _token_headers(port, credentials)
        _load(port, MINIMAL, headers, seconds=1, clients=4, rate=0)  # warm-up
        _load(port, ASSIGN, headers, seconds=1, clients=4, rate=0)
        # Alternate the two closed loops so a change in the machine's load hits both alike.
        load = {"seconds": args.seconds / 2, "clients": args.clients, "rate": 0}
        runs = [_load(port, path, headers, **load) for path in (MINIMAL, ASSIGN) * 2]
        minimal, assign = gunicorn_server.merge(runs[0::2]), gunicorn_server.merge(runs[1::2])
        paced = _load(
            port, ASSIGN, headers, seconds=args.seconds, clients=args.clients, rate=args.rate
        )
    finally:
        if server is not None:
            gunicorn_server.stop(server)
        if pg_name:
            pg.drop_database(pg_name)
        shutil.rmtree(workdir, ignore_errors=True)

    ratio = round(assign["requests_per_s"] / minimal["requests_per_s"], 3)
    print(
        f"database={database} workers={args.workers} threads={args.threads} cpus={os.cpu_count()}"
    )
    for label, figures in (
        ("minimal view, closed loop", minimal),
        ("assign-bonus, closed loop", assign),
        (f"assign-bonus, {args.rate:.0f}/s open loop", paced),
    ):
        shown = {k: v for k, v in figures.items() if k not in ("latencies", "elapsed")}
        print(f"{label + ':':36} {json.dumps(shown)}")
    result = {
        "database": database,
        "p99_ms": paced["p99_ms"],
        "p50_ms": paced["p50_ms"],
        "rate_per_s": args.rate,
        "achieved_rate_per_s": paced["requests_per_s"],
        "requests_per_s": assign["requests_per_s"],
        "minimal_requests_per_s": minimal["requests_per_s"],
        "ratio_vs_minimal": ratio,
        "non_2xx": sum(v for k, v in paced["statuses"].items() if not k.startswith("2"))
        + sum(v for k, v in assign["statuses"].items() if not k.startswith("2")),
        "target_p99_ms": TARGET_P99_MS,
        "target_rate_per_s": TARGET_RATE,
        "target_ratio_vs_minimal": TARGET_RATIO,
        "meets_targets": database == "postgresql"
        and paced["p99_ms"] < TARGET_P99_MS
        and ratio >= TARGET_RATIO,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
