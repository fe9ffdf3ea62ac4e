"""GET /healthz: who may read it, what it says, and when it answers 503."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from events.models import EndpointState, OutboxMessage
from tests.admin.conftest import outbox_rows

pytestmark = pytest.mark.django_db
URL = "/healthz"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def health_settings(settings):
    settings.HEALTH_TOKEN = "monitor-token"
    settings.HEALTH_ALLOWED_NETWORKS = []
    settings.HEALTH_MAX_DUE_AGE = 300.0
    return settings


def test_it_refuses_anonymous_callers(client) -> None:
    response = client.get(URL)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "failed" not in response.json()


def test_it_refuses_a_wrong_token(client) -> None:
    assert client.get(URL, headers={"Authorization": "Bearer nope"}).status_code == 401


def test_it_refuses_any_token_when_none_is_configured(client, health_settings) -> None:
    health_settings.HEALTH_TOKEN = ""
    assert client.get(URL, headers={"Authorization": "Bearer "}).status_code == 401


def test_it_answers_the_bearer_token(client) -> None:
    response = client.get(URL, headers={"Authorization": "Bearer monitor-token"})
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_it_answers_a_staff_session(support) -> None:
    assert support.get(URL).status_code == 200


def test_it_refuses_a_non_staff_session(client, django_user_model) -> None:
    client.force_login(django_user_model.objects.create_user("player-ish"))
    assert client.get(URL).status_code == 401


def test_it_answers_the_allowed_network(client, health_settings) -> None:
    health_settings.HEALTH_ALLOWED_NETWORKS = [ipaddress.ip_network("10.0.0.0/8")]
    assert client.get(URL, REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get(URL, REMOTE_ADDR="192.168.1.1").status_code == 401


def test_it_reports_the_dashboard_figures_circuit_and_token_age(client) -> None:
    outbox_rows(2, status="failed")
    response = client.get(URL, headers={"Authorization": "Bearer monitor-token"})
    body = response.json()
    assert body["failed"] == 2
    assert body["delivery"]["failed"] == 2  # the outbox's own figures
    assert body["failures_by_message_type"] == {"game_round": 2}
    assert len(body["deliveries_per_hour"]) == 24
    assert body["circuit"] == "closed"
    assert "pep_token_age_seconds" in body
    assert body["pep_token_age_seconds"] is None  # no token fetched yet
    assert response["Cache-Control"].startswith("max-age=0")


def test_it_answers_503_when_a_circuit_is_open(client) -> None:
    EndpointState.objects.create(message_type="game_round", circuit="open")
    response = client.get(URL, headers={"Authorization": "Bearer monitor-token"})
    assert response.status_code == 503
    assert response.json()["problems"] == ["circuit_open"]


def test_it_answers_503_when_deliveries_are_stuck(client) -> None:
    (row,) = outbox_rows(1, status="pending")
    OutboxMessage.objects.filter(pk=row.pk).update(
        next_attempt_at=timezone.now() - timedelta(minutes=10)
    )
    response = client.get(URL, headers={"Authorization": "Bearer monitor-token"})
    assert response.status_code == 503
    assert response.json()["problems"] == ["deliveries_stuck"]


def test_bad_cidrs_stop_start_up(tmp_path) -> None:
    env = {
        **os.environ,
        "PEPBRIDGE_VAR_DIR": str(tmp_path),
        "HEALTH_ALLOWED_CIDRS": "10.0.0.0/8,nope",
    }
    code = "import pepbridge.settings"
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode != 0
    assert "HEALTH_ALLOWED_CIDRS" in result.stderr


def test_it_runs_each_outbox_figure_once(client) -> None:
    """The dashboard's figures and the "delivery" block share one delivery_health() call."""
    outbox_rows(3)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL, headers={"Authorization": "Bearer monitor-token"})
    assert response.status_code == 200
    oldest_due = [q for q in queries if 'MIN("events_outboxmessage"."next_attempt_at")' in q["sql"]]
    assert len(oldest_due) == 1
    body = response.json()
    assert body["oldest_due_age_seconds"] == body["delivery"]["oldest_due_age_seconds"]
