"""GET /metrics: who may scrape it, that it parses, and that the process counters move."""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import requests
import yaml
from django.contrib.auth import get_user_model
from django.db import OperationalError
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from events.models import EndpointState
from events.services import endpoints
from events.services.claim import claim_due
from events.services.delivery import deliver_batch
from pepbridge import metrics_db
from pepbridge.pep.client import PepClient
from pepbridge.pep.errors import PepPermanentError, PepTransientError
from tests.events.outbox_fixtures import BASE, message, put

pytestmark = pytest.mark.django_db
URL = "/metrics"
TOKEN = {"Authorization": "Bearer monitor-token"}
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def health_settings(settings):
    settings.HEALTH_TOKEN = "monitor-token"
    settings.HEALTH_ALLOWED_NETWORKS = []
    settings.HEALTH_MAX_DUE_AGE = 300.0
    return settings


def value(name: str, **labels: str) -> float:
    """A sample of this process's registry, 0 if it was never recorded."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scrape(client) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Scrape /metrics and parse it with prometheus_client's own parser: name -> labels -> value."""
    response = client.get(URL, headers=TOKEN)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            key = tuple(sorted(sample.labels.items()))
            samples.setdefault(sample.name, {})[key] = sample.value
    return samples


def test_it_refuses_anonymous_scrapers(client) -> None:
    response = client.get(URL)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"pepbridge_" not in response.content


def test_it_refuses_a_wrong_token(client) -> None:
    assert client.get(URL, headers={"Authorization": "Bearer nope"}).status_code == 401


def test_it_refuses_a_non_staff_session(client) -> None:
    client.force_login(get_user_model().objects.create_user("not-staff"))
    assert client.get(URL).status_code == 401


def test_it_answers_a_staff_session(client) -> None:
    client.force_login(get_user_model().objects.create_user("ops", is_staff=True))
    assert client.get(URL).status_code == 200


def test_it_answers_a_client_in_the_allowed_networks(client, health_settings) -> None:
    health_settings.HEALTH_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.0/8")]
    assert client.get(URL).status_code == 200


def test_the_exposition_parses_and_names_every_figure(client) -> None:
    EndpointState.objects.create(message_type="game_round", circuit="open")
    samples = scrape(client)
    for name in (
        "pepbridge_outbox_rows",
        "pepbridge_outbox_rows_estimated",
        "pepbridge_outbox_oldest_due_age_seconds",
        "pepbridge_pep_circuit_state",
        "pepbridge_assign_bonus_requests_last_hour",
        "pepbridge_assign_bonus_oldest_unprocessed_age_seconds",
        "pepbridge_pep_requests_in_flight",
        "pepbridge_metrics_database_seconds",
    ):
        assert name in samples, name
    assert samples["pepbridge_metrics_database_up"][()] == 1
    circuit = samples["pepbridge_pep_circuit_state"]
    assert circuit[(("endpoint", "game_round"), ("state", "open"))] == 1
    assert circuit[(("endpoint", "game_round"), ("state", "closed"))] == 0


def test_a_database_failure_still_serves_the_process_metrics(client, monkeypatch) -> None:
    def broken(now: object) -> float:
        raise OperationalError("the database went away")

    monkeypatch.setattr(metrics_db, "oldest_due_age", broken)

    samples = scrape(client)

    assert samples["pepbridge_metrics_database_up"][()] == 0
    assert "pepbridge_outbox_rows" not in samples  # none rather than half of them
    assert "pepbridge_pep_requests_in_flight" in samples


def test_a_delivery_moves_the_counters(client, outbox_pep, outbox_client) -> None:
    outbox_pep.post(f"{BASE}/rx-api/test/game_round", status=202)
    outbox_pep.post(f"{BASE}/rx-api/test/money_transaction", status=400, json={"error": "x"})
    put(message("p1", 1), message("p2", 1, message_type="money_transaction"))
    delivered = value("pepbridge_delivery_attempts_total", message_type="game_round",
                      outcome="delivered")  # fmt: skip
    failed = value("pepbridge_delivery_attempts_total", message_type="money_transaction",
                   outcome="failed")  # fmt: skip
    latency = value("pepbridge_pep_request_duration_seconds_count", endpoint="other",
                    method="POST", outcome="2xx")  # fmt: skip
    refreshes = value("pepbridge_pep_token_refreshes_total", outcome="ok")

    rows = claim_due(worker="w", limit=10, now=timezone.now())
    deliver_batch(rows, worker="w", client=outbox_client)

    samples = scrape(client)
    attempts = samples["pepbridge_delivery_attempts_total"]
    assert attempts[(("message_type", "game_round"), ("outcome", "delivered"))] == delivered + 1
    assert attempts[(("message_type", "money_transaction"), ("outcome", "failed"))] == failed + 1
    count = samples["pepbridge_pep_request_duration_seconds_count"]
    assert count[(("endpoint", "other"), ("method", "POST"), ("outcome", "2xx"))] == latency + 1
    token = samples["pepbridge_pep_token_refreshes_total"][(("outcome", "ok"),)]
    assert token == refreshes + 1
    assert samples["pepbridge_pep_requests_in_flight"][()] == 0


def test_the_latency_label_is_the_contract_endpoint_not_the_player_path(pep_http) -> None:
    pep_http.post(f"{BASE}/api/oauth/v1/token", json={"accessToken": "t", "expiresIn": 3600})
    pep_http.delete(f"{BASE}/api/players-data/v1/players/p-secret", status=204)
    pep = PepClient(base_url=BASE, client_id="id", client_secret="s", attempts=1)
    before = value("pepbridge_pep_request_duration_seconds_count", endpoint="player_delete",
                   method="DELETE", outcome="2xx")  # fmt: skip

    pep.request("DELETE", "/api/players-data/v1/players/p-secret")

    after = value("pepbridge_pep_request_duration_seconds_count", endpoint="player_delete",
                  method="DELETE", outcome="2xx")  # fmt: skip
    assert after == before + 1
    label_values = {v for family in REGISTRY.collect() for s in family.samples
                    for v in s.labels.values()}  # fmt: skip
    assert not any("p-secret" in label for label in label_values)


def test_a_refused_token_request_counts_as_a_failed_refresh(pep_http) -> None:
    pep_http.post(f"{BASE}/api/oauth/v1/token", status=401, json={"error": "invalid_client"})
    pep = PepClient(base_url=BASE, client_id="id", client_secret="s", attempts=1)
    before = value("pepbridge_pep_token_refreshes_total", outcome="failed")

    with pytest.raises(PepPermanentError):
        pep.request("POST", "/rx-api/transactions/v1/game-transaction-round", body=b"{}")

    assert value("pepbridge_pep_token_refreshes_total", outcome="failed") == before + 1


def test_a_request_without_an_answer_is_timed_under_its_error_class(pep_http) -> None:
    pep_http.post(f"{BASE}/api/oauth/v1/token", json={"accessToken": "t", "expiresIn": 3600})
    pep_http.post(f"{BASE}/rx-api/crm/v1/trigger-action", body=requests.ConnectionError("down"))
    pep = PepClient(base_url=BASE, client_id="id", client_secret="s", attempts=1)
    labels = {"endpoint": "crm_trigger", "method": "POST", "outcome": "connection"}
    before = value("pepbridge_pep_request_duration_seconds_count", **labels)

    with pytest.raises(PepTransientError, match="could not reach PEP"):
        pep.request("POST", "/rx-api/crm/v1/trigger-action", body=b"{}", retry=False)

    assert value("pepbridge_pep_request_duration_seconds_count", **labels) == before + 1
    assert value("pepbridge_pep_requests_in_flight") == 0


def test_an_empty_rate_limit_bucket_counts_a_wait(settings) -> None:
    settings.OUTBOX_RATE_LIMITS = {"game_round": (10, 60)}  # a burst of one
    now = timezone.now()
    before = value("pepbridge_rate_limit_waits_total", endpoint="game_round")

    assert endpoints.reserve("game_round", 5, now) == 1
    assert value("pepbridge_rate_limit_waits_total", endpoint="game_round") == before
    assert endpoints.reserve("game_round", 5, now + timedelta(milliseconds=1)) == 0

    assert value("pepbridge_rate_limit_waits_total", endpoint="game_round") == before + 1


def test_a_degraded_healthz_logs_one_warning_and_no_error(client, caplog) -> None:
    EndpointState.objects.create(message_type="game_round", circuit="open")
    caplog.set_level(logging.INFO)

    response = client.get("/healthz", headers=TOKEN)

    assert response.status_code == 503
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []
    warnings = [r for r in caplog.records if r.getMessage() == "healthz degraded"]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert warnings[0].problems == "circuit_open"


COUNT_IN_A_WORKER = """
from pepbridge import metrics
metrics.attempts_recorded([("game_round", "delivered")] * {n})
metrics.rate_limit_reserved("game_round", 5, 0)
"""
SCRAPE = "import sys; from pepbridge import metrics; sys.stdout.buffer.write(metrics.exposition())"


def run_python(code: str, multiproc_dir: Path) -> bytes:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(multiproc_dir)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, check=True, cwd=ROOT
    )
    return done.stdout


def test_in_multiprocess_mode_a_scrape_adds_up_every_process(tmp_path: Path) -> None:
    run_python(COUNT_IN_A_WORKER.format(n=2), tmp_path)
    run_python(COUNT_IN_A_WORKER.format(n=3), tmp_path)  # another worker, since exited

    body = run_python(SCRAPE, tmp_path).decode()

    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }
    delivered = (("message_type", "game_round"), ("outcome", "delivered"))
    assert samples[("pepbridge_delivery_attempts_total", delivered)] == 5
    assert samples[("pepbridge_rate_limit_waits_total", (("endpoint", "game_round"),))] == 2


def test_the_alert_rules_in_the_docs_parse_and_name_only_real_metrics(
    client, outbox_pep, outbox_client, settings
) -> None:
    # Make every labelled series exist: a delivery, a token refresh, a rate-limit wait.
    outbox_pep.post(f"{BASE}/rx-api/test/game_round", status=202)
    put(message("p1", 1))
    now = timezone.now()
    deliver_batch(claim_due(worker="w", limit=1, now=now), worker="w", client=outbox_client)
    settings.OUTBOX_RATE_LIMITS = {"money_transaction": (10, 60)}
    endpoints.reserve("money_transaction", 2, now)
    endpoints.reserve("money_transaction", 2, now)
    exposed = set(scrape(client))
    text = (ROOT / "docs" / "operations.md").read_text()
    rules = yaml.safe_load(re.search(r"```yaml\n(# pepbridge-alerts.yml.*?)```", text, re.S)[1])

    named = {
        name
        for rule in rules["groups"][0]["rules"]
        for name in re.findall(r"pepbridge_[a-z_]+", rule["expr"])
    }

    assert len(rules["groups"][0]["rules"]) >= 8
    assert named - exposed == set()


def test_a_request_counts_as_in_flight_until_peps_answer(pep_http) -> None:
    seen: list[float] = []

    def answer(request: object) -> tuple[int, dict[str, str], str]:
        seen.append(value("pepbridge_pep_requests_in_flight"))
        return 202, {}, ""

    pep_http.post(f"{BASE}/api/oauth/v1/token", json={"accessToken": "t", "expiresIn": 3600})
    pep_http.add_callback("POST", f"{BASE}/rx-api/crm/v1/trigger-action", callback=answer)
    pep = PepClient(base_url=BASE, client_id="id", client_secret="s", attempts=1)
    before = value("pepbridge_pep_requests_in_flight")

    pep.request("POST", "/rx-api/crm/v1/trigger-action", body=b"{}")

    assert seen == [before + 1]
    assert value("pepbridge_pep_requests_in_flight") == before
