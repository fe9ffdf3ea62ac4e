"""Settings fail loudly, naming the variable; system checks flag unsafe or slow settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.checks import ERROR
from django.core.checks.registry import registry
from django.test import override_settings

from events import checks as events_checks
from pepbridge import checks

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "x" * 50,
    "PEP_BASE_URL": "https://pep.invalid",
    "PEP_CLIENT_ID": "bridge",
    "PEP_CLIENT_SECRET": "not-a-real-secret",
}


def _load_settings(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PEP_", "DATABASE", "Q_"))}
    clean.update({"PEPBRIDGE_VAR_DIR": str(tmp_path), "DEBUG": "true", **env})
    code = "import pepbridge.settings as s; print(s.DATABASES['default']['ENGINE'])"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True
    )


def test_it_starts_with_no_configuration_on_sqlite(tmp_path: Path) -> None:
    result = _load_settings({}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.db.backends.sqlite3"


@pytest.mark.parametrize(
    "missing", ["SECRET_KEY", "PEP_BASE_URL", "PEP_CLIENT_ID", "PEP_CLIENT_SECRET"]
)
def test_it_refuses_to_start_in_production_without(missing: str, tmp_path: Path) -> None:
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    result = _load_settings(env, tmp_path)
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {missing}" in result.stderr


def test_it_names_a_malformed_variable(tmp_path: Path) -> None:
    result = _load_settings({"Q_WORKERS": "many"}, tmp_path)
    assert "Q_WORKERS must be an integer" in result.stderr


def test_it_needs_redis_url_for_the_redis_broker(tmp_path: Path) -> None:
    result = _load_settings({"Q_BROKER": "redis"}, tmp_path)
    assert "Q_BROKER=redis needs REDIS_URL" in result.stderr


def test_it_switches_to_postgresql_with_database_url(tmp_path: Path) -> None:
    result = _load_settings({"DATABASE_URL": "postgres://u@/db?host=/var/run/postgresql"}, tmp_path)
    assert result.stdout.strip() == "django.db.backends.postgresql"


def _ids(warnings: list) -> list[str]:
    return [w.id for w in warnings]


def test_it_warns_when_postgres_connections_are_not_kept() -> None:
    db = {"ENGINE": "django.db.backends.postgresql", "CONN_MAX_AGE": 0, "OPTIONS": {}}
    with override_settings(DATABASES={"default": db}):
        assert _ids(checks.check_persistent_connections(None)) == ["pepbridge.W001"]
    db["CONN_MAX_AGE"] = 600
    with override_settings(DATABASES={"default": db}):
        assert checks.check_persistent_connections(None) == []


def test_it_warns_when_q_retry_is_not_above_timeout() -> None:
    with override_settings(Q_CLUSTER={"timeout": 120, "retry": 120, "max_attempts": 1}):
        assert _ids(checks.check_task_queue(None)) == ["pepbridge.W002"]


def test_it_warns_about_unlimited_task_attempts() -> None:
    with override_settings(Q_CLUSTER={"timeout": 60, "retry": 120, "max_attempts": 0}):
        assert _ids(checks.check_task_queue(None)) == ["pepbridge.W003"]


def test_the_default_task_queue_settings_are_clean() -> None:
    assert checks.check_task_queue(None) == []


def test_it_warns_when_q_timeout_leaves_no_room_for_a_delivery_pass() -> None:
    queue = {"timeout": 68, "retry": 180, "max_attempts": 1}
    timings = {"OUTBOX_DRAIN_MAX_SECONDS": 50.0, "PEP_CONNECT_TIMEOUT": 3.0, "PEP_READ_TIMEOUT": 10}
    with override_settings(Q_CLUSTER=queue, **timings):  # 50 + 3 + 10 + 5 s of slack = 68
        assert _ids(checks.check_drain_fits_task_timeout(None)) == ["pepbridge.W004"]
    with override_settings(Q_CLUSTER={**queue, "timeout": 69}, **timings):
        assert checks.check_drain_fits_task_timeout(None) == []


def test_it_names_an_unknown_rate_limit_key() -> None:
    limits = {"game_round": (100, 60.0), "money_transacton": (10, 1.0)}
    with override_settings(OUTBOX_RATE_LIMITS=limits):
        (warning,) = checks.check_rate_limit_keys(None)
    assert warning.id == "pepbridge.W005"
    assert "'money_transacton'" in warning.msg
    assert "money_transaction" in warning.hint
    with override_settings(OUTBOX_RATE_LIMITS={"game_round": (100, 60.0)}):
        assert checks.check_rate_limit_keys(None) == []


def test_it_refuses_a_lease_that_cannot_outlive_one_request() -> None:
    timings = {"PEP_CONNECT_TIMEOUT": 3.0, "PEP_READ_TIMEOUT": 10.0}
    with override_settings(OUTBOX_LEASE_SECONDS=18.0, **timings):  # 3 + 10 + 5 s of slack
        (error,) = events_checks.check_lease_outlives_a_request(None)
    assert error.id == "pepbridge.E001"
    assert error.level == ERROR
    with override_settings(OUTBOX_LEASE_SECONDS=19.0, **timings):
        assert events_checks.check_lease_outlives_a_request(None) == []


def test_the_default_delivery_settings_pass_the_delivery_checks() -> None:
    assert checks.check_drain_fits_task_timeout(None) == []
    assert checks.check_rate_limit_keys(None) == []
    assert events_checks.check_lease_outlives_a_request(None) == []


def test_the_delivery_checks_run_with_plain_check_not_only_deploy() -> None:
    plain = registry.get_checks(include_deployment_checks=False)
    assert checks.check_drain_fits_task_timeout in plain
    assert checks.check_rate_limit_keys in plain
