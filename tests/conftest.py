"""Shared fixtures. Each app's tests may add their own conftest.py beside them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses as responses_lib
from django.db import connection

# Outbox test fixtures (outbox_pep, outbox_client), shared by tests/events/test_*.py.
pytest_plugins = ["tests.events.outbox_fixtures"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests marked `postgres` when the suite runs on SQLite."""
    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def pep_http() -> Iterator[responses_lib.RequestsMock]:
    """A `responses` mock of PEP that fails the test if an expected call is never made."""
    with responses_lib.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock
