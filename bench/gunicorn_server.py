"""The gunicorn server the HTTP benchmarks load, and the statistics of their load loops.

One copy for bench/operator_api.py, bench/webhooks.py and bench/ingest.py: the server with a
minimal view beside the project's, its start and stop, the load loop (`load`) and its figures.
gunicorn runs under the interpreter that runs the benchmark (`sys.executable -m gunicorn`), so a
bench measures the environment it was started in, not whatever `.venv/` happens to hold.
"""

from __future__ import annotations

import http.client
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
START_SECONDS = 30
LOAD_PROCESSES = 2

# One client thread's requests: request number -> (body, headers).
Requests = Callable[[int], tuple[bytes, dict[str, str]]]
# Made in the client process before the clock starts (so signing a body costs no server time):
# (the thread's job, the thread's index among all threads) -> its requests.
PrepareRequests = Callable[[dict[str, Any], int], Requests]


def wsgi_with_minimal_view(view_path: str, answer: dict[str, Any], *, read_body: bool) -> Any:
    """The project's WSGI app plus `POST /bench/minimal`, the ceiling a bench compares against.

    The minimal view has the measured view's DRF authentication, permission and throttle
    classes and does nothing else (reads the body if the measured view must), so the ratio
    between the two is the cost of the work the measured view really does.
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pepbridge.settings")
    import django  # only once the settings module is named: this runs in the server process

    django.setup()
    from types import ModuleType

    from django.conf import settings
    from django.core.wsgi import get_wsgi_application
    from django.urls import include, path
    from django.utils.module_loading import import_string
    from rest_framework.response import Response
    from rest_framework.views import APIView

    measured = import_string(view_path)

    class MinimalView(APIView):
        authentication_classes = measured.authentication_classes
        permission_classes = measured.permission_classes
        throttle_classes = measured.throttle_classes

        def post(self, request: Any) -> Response:
            if read_body:
                request.body  # noqa: B018  (read it, as the measured view does)
            return Response(answer, status=202)

    urls = ModuleType("bench_minimal_urls")
    urls.urlpatterns = [  # type: ignore[attr-defined]
        path("bench/minimal", MinimalView.as_view()),
        path("", include("pepbridge.urls")),
    ]
    sys.modules[urls.__name__] = urls
    settings.ROOT_URLCONF = urls.__name__
    return get_wsgi_application()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(app: str, env: dict[str, str], port: int, workers: int, threads: int) -> subprocess.Popen:
    """gunicorn (gthread) on loopback, in its own session so that stop() reaps every worker."""
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        app,
        f"--bind=127.0.0.1:{port}",
        f"--workers={workers}",
        f"--threads={threads}",
        "--worker-class=gthread",
        "--keep-alive=30",
        "--log-level=warning",
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("gunicorn exited during start-up")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server
        except OSError:
            time.sleep(0.1)
    stop(server)
    raise RuntimeError(f"gunicorn did not start within {START_SECONDS} s")


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def merge(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Two runs of one loop as one: all latencies, total requests over total time."""
    latencies = sorted(x for run in runs for x in run["latencies"])
    statuses: dict[int, int] = {}
    for run in runs:
        for status, count in run["statuses"].items():
            statuses[int(status)] = statuses.get(int(status), 0) + count
    return summary(latencies, statuses, sum(run["elapsed"] for run in runs))


def summary(latencies: list[float], statuses: dict[int, int], elapsed: float) -> dict[str, Any]:
    """Percentiles of the latencies; the rate is requests over the wall time they really took."""

    def pct(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 2)

    return {
        "latencies": latencies,
        "elapsed": elapsed,
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


def load(
    port: int,
    path: str,
    prepare: PrepareRequests,
    *,
    seconds: float,
    clients: int,
    rate: float,
    lead: float = 0.5,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`clients` keep-alive connections over LOAD_PROCESSES processes for `seconds`.

    rate 0 is a closed loop (each connection sends as soon as it has its answer); otherwise an
    open loop at `rate` requests/s in all, each latency taken from the request's planned send
    time, so a stalled server cannot hide its queue. `lead`: seconds before the clock starts,
    for `prepare`. `extra` goes into each process's job (with `process`, its number).
    """
    per = max(1, clients // LOAD_PROCESSES)
    start = time.time() + lead
    jobs = [
        {
            **(extra or {}),
            "port": port,
            "path": path,
            "prepare": prepare,
            "seconds": seconds,
            "start": start,
            "threads": per,
            "threads_total": per * LOAD_PROCESSES,
            "offset": process * per,
            "process": process,
            "interval": (1.0 / rate) if rate else 0.0,
        }
        for process in range(LOAD_PROCESSES)
    ]
    with multiprocessing.get_context("fork").Pool(LOAD_PROCESSES) as pool:
        results = pool.map(_client_process, jobs)
    latencies = sorted(x for r in results for x in r["latencies"])
    statuses: dict[int, int] = {}
    for r in results:
        for status, count in r["statuses"].items():
            statuses[status] = statuses.get(status, 0) + count
    elapsed = max(r["finished"] for r in results) - start
    return summary(latencies, statuses, elapsed)


def _client_process(job: dict[str, Any]) -> dict[str, Any]:
    """One load process: `threads` connections, each sending what its `prepare` made."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    finished = [0.0]
    lock = threading.Lock()
    start, step = job["start"], job["interval"]

    def run(index: int) -> None:
        requests = job["prepare"](job, index)
        conn = http.client.HTTPConnection("127.0.0.1", job["port"], timeout=30)
        n = 0
        time.sleep(max(0.0, start - time.time()))
        while True:
            planned = start + (index + n * job["threads_total"]) * step if step else time.time()
            if planned >= start + job["seconds"]:
                break
            if step:
                time.sleep(max(0.0, planned - time.time()))
            body, headers = requests(n)
            try:
                conn.request("POST", job["path"], body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", job["port"], timeout=30)
                status = 0
            now = time.time()
            with lock:
                latencies.append(now - planned)
                finished[0] = max(finished[0], now)
                statuses[status] = statuses.get(status, 0) + 1
            n += 1
        conn.close()

    offset = job["offset"]
    threads = [threading.Thread(target=run, args=(offset + i,)) for i in range(job["threads"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"latencies": latencies, "statuses": statuses, "finished": finished[0]}
