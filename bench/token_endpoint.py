"""Benchmark POST /oauth/token: p50/p99 with our fast hasher, beside Django's default PBKDF2.

    .venv/bin/python bench/token_endpoint.py [--requests 500] [--pbkdf2-requests 20]

Standalone and in-process: a temporary SQLite database, migrated, two client-credentials
clients (one stored with pepbridge's HMAC hasher, one with PBKDF2), and Django's test client
posting form-encoded token requests. It measures the whole Django request (DOT, oauthlib, the
secret check, the token INSERT), not the network. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from server_env import PRODUCTION_LIKE

ROOT = Path(__file__).resolve().parent.parent
TARGET_P99_MS = 20.0


def _setup(workdir: str) -> None:
    # Production settings (DEBUG would keep every query), for Django's test client's host.
    os.environ.update({**PRODUCTION_LIKE, "ALLOWED_HOSTS": "testserver"})
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir}/bench.sqlite3"
    os.environ["PEPBRIDGE_VAR_DIR"] = workdir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pepbridge.settings")
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def _clients() -> dict[str, dict[str, str]]:
    """A fast-hashed client and the same kind of client with its secret hashed by PBKDF2."""
    from django.contrib.auth.hashers import make_password
    from oauth2_provider.models import get_application_model

    from pepbridge.api.models import ClientScope
    from pepbridge.api.services import oauth_client_create

    fast = oauth_client_create(name="bench-fast", scope="pep")
    slow = oauth_client_create(name="bench-pbkdf2", scope="pep")
    app = get_application_model().objects.get(client_id=slow.client_id)
    app.client_secret = make_password(slow.client_secret)  # Django's default hasher
    app.save()
    assert ClientScope.objects.filter(application=app).exists()
    return {
        name: {
            "grant_type": "client_credentials",
            "client_id": issued.client_id,
            "client_secret": issued.client_secret,
        }
        for name, issued in (("fast", fast), ("pbkdf2", slow))
    }


def _measure(form: dict[str, str], count: int) -> list[float]:
    from django.test import Client

    client = Client()
    for _ in range(5):  # warm-up: imports, oauthlib server, connection
        assert client.post("/oauth/token", form).status_code == 200
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.post("/oauth/token", form)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.content
    return timings


def _percentiles(timings: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(timings, n=100, method="inclusive")
    return round(statistics.median(timings), 2), round(cuts[98], 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--pbkdf2-requests", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pepbridge-bench-") as workdir:
        _setup(workdir)
        forms = _clients()
        fast_p50, fast_p99 = _percentiles(_measure(forms["fast"], args.requests))
        slow_p50, slow_p99 = _percentiles(_measure(forms["pbkdf2"], args.pbkdf2_requests))
    print(f"fast hasher   ({args.requests} requests): p50 {fast_p50} ms, p99 {fast_p99} ms")
    print(
        f"PBKDF2 (default, {args.pbkdf2_requests} requests): p50 {slow_p50} ms, p99 {slow_p99} ms"
    )
    result = {
        "p50_ms": fast_p50,
        "p99_ms": fast_p99,
        "target_p99_ms": TARGET_P99_MS,
        "pbkdf2_p50_ms": slow_p50,
        "pbkdf2_p99_ms": slow_p99,
        "requests": args.requests,
        "ok": fast_p99 < TARGET_P99_MS,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
