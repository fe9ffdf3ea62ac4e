"""Shared fixtures. Each app's tests may add their own conftest.py beside them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import responses as responses_lib
from django.db import connection

from pepbridge import settings as project_settings

# Outbox test fixtures (outbox_pep, outbox_client), shared by tests/events/test_*.py.
pytest_plugins = ["tests.events.outbox_fixtures"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests marked `postgres` on SQLite, and those marked `own_sqlite` or `sqlite_pass`
    on PostgreSQL.

    An `own_sqlite` test runs its processes on a SQLite file of its own, whatever the suite's
    database; a `sqlite_pass` test checks what does not depend on the database (a browser's
    clicks and layout; the demo, which runs on the embedded default). The PostgreSQL pass would
    run either again to the same effect (CI runs both passes, within 20 minutes).
    """
    if connection.vendor == "postgresql":
        markers, reason = ("own_sqlite", "sqlite_pass"), "runs in the SQLite pass"
    else:
        markers, reason = ("postgres",), "needs PostgreSQL (set DATABASE_URL)"
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if any(marker in item.keywords for marker in markers):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Staff passwords hashed with MD5 in tests, as Django's testing docs advise: PBKDF2's
    million rounds cost ~0.5 s per user created or logged in, minutes over the suite. The
    project's own list follows, so every stored hash still verifies; that production hashes
    passwords with PBKDF2 is tested on the settings module (tests/api/test_hashers.py)."""
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        *project_settings.PASSWORD_HASHERS,
    ]


@pytest.fixture
def pep_http() -> Iterator[responses_lib.RequestsMock]:
    """A `responses` mock of PEP that fails the test if an expected call is never made."""
    with responses_lib.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock
