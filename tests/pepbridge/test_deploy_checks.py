"""`check --deploy` refuses a short identity secret and PEP over http, and warns on SQLite."""

from __future__ import annotations

import pytest
from django.core.checks import run_checks

from pepbridge.api.checks import BUILTIN_VALIDATOR

# check --deploy reads the database (bonuses/checks.py looks at the catalogue), as it does in
# production: an empty test database, as in CI.
pytestmark = pytest.mark.django_db


def deploy_ids() -> set[str]:
    return {message.id for message in run_checks(include_deployment_checks=True)}


def use_engine(settings, engine: str) -> None:
    # A copy: the settings fixture restores attributes, not what is changed inside them.
    default = {**settings.DATABASES["default"], "ENGINE": engine}
    settings.DATABASES = {**settings.DATABASES, "default": default}


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.PLAYER_IDENTITY_VALIDATOR = BUILTIN_VALIDATOR
    settings.PLAYER_IDENTITY_SECRET = "s" * 32
    settings.PEP_BASE_URL = "https://pep.example.com"
    use_engine(settings, "django.db.backends.postgresql")
    settings.ALLOW_SQLITE_IN_PRODUCTION = False
    return settings


def test_a_sound_production_setup_raises_none_of_them(production) -> None:
    assert not deploy_ids() & {"pepbridge.E011", "pepbridge.E012", "pepbridge.W011"}


@pytest.mark.parametrize(
    ("secret", "refused"), [("abc", True), ("é" * 16, False), ("x" * 31, True)]
)
def test_a_short_identity_secret_is_an_error(production, secret: str, refused: bool) -> None:
    production.PLAYER_IDENTITY_SECRET = secret  # counted in bytes: "é" is two
    assert ("pepbridge.E011" in deploy_ids()) is refused


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("http://pep.example.com", True),
        ("http://10.0.0.7:8080", True),
        ("http://localhost:8001", False),
        ("http://127.0.0.1:8001", False),
        ("http://[::1]:8001", False),
        ("https://pep.example.com", False),
    ],
)
def test_pep_over_plain_http_is_an_error_unless_loopback(production, url, refused) -> None:
    production.PEP_BASE_URL = url
    assert ("pepbridge.E012" in deploy_ids()) is refused


def test_sqlite_in_production_is_a_warning_unless_chosen(production) -> None:
    use_engine(production, "django.db.backends.sqlite3")
    assert "pepbridge.W011" in deploy_ids()
    production.ALLOW_SQLITE_IN_PRODUCTION = True
    assert "pepbridge.W011" not in deploy_ids()
