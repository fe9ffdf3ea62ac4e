"""Playwright on Debian's Chromium against pytest-django's live_server.

Skipped when /usr/bin/chromium or the playwright package is missing, except under
PEPBRIDGE_REQUIRE_BROWSER=1 (set by .ci/run, which installs both), where that is a failure; never
downloads a browser. Screenshots go to test-artifacts/ (gitignored) for the CI job to keep.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations.special import RunPython

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "browser-test-pw-1"
# Quoted in the README's "Tests and CI" (tests/test_readme_examples.py holds them together).
SKIP_REASON = "needs /usr/bin/chromium and the playwright package"


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists() or importlib.util.find_spec("playwright") is None:
        if os.environ.get("PEPBRIDGE_REQUIRE_BROWSER") == "1":  # CI: a skip would hide them
            pytest.fail(SKIP_REASON)
        pytest.skip(SKIP_REASON)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop in this thread; Django's ORM then refuses to
    # run here unless told that this (test-only) thread is not serving async code.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def _migrations_that_shape_groups() -> list[Any]:
    """Our migrations that create staff groups or grant them rights, in the order they ran."""
    loader = MigrationLoader(connection)
    ours = {"pepbridge", "api", "players", "bonuses", "events", "reconciliation"}
    # Each leaf's plan is in dependency order; joined, first appearance keeps that order.
    plans = [key for leaf in loader.graph.leaf_nodes() for key in loader.graph.forwards_plan(leaf)]
    ordered = list(dict.fromkeys(plans))
    return [
        loader.graph.nodes[key]
        for key in ordered
        if key[0] in ours
        and "Group" in inspect.getsource(sys.modules[type(loader.graph.nodes[key]).__module__])
    ]


@pytest.fixture
def staff_groups(transactional_db: None) -> None:
    """The groups and rights the migrations gave them: a transactional test's flush removed them.

    Every migration of ours that touches groups is replayed (their functions are idempotent), so
    a later migration granting a group a new right is picked up here too.
    """
    # Content types are re-created with new ids by each flush; a cached old id makes the next
    # LogEntry / StaffAction fail its foreign key (seen only when the whole suite runs).
    ContentType.objects.clear_cache()
    if Group.objects.count() >= 4:
        return
    state_apps = MigrationLoader(connection).project_state().apps
    for migration in _migrations_that_shape_groups():
        for operation in migration.operations:
            if isinstance(operation, RunPython):
                operation.code(state_apps, None)


@pytest.fixture
def log_in(live_server: Any, page: Any, staff_groups: None) -> Callable[[str], Any]:
    """Create a staff member of the group and log in through the admin's login form."""

    def login(group: str) -> Any:
        username = group.lower().replace(" ", "-")
        user = get_user_model().objects.create_user(username, password=PASSWORD, is_staff=True)
        user.groups.add(Group.objects.get(name=group))
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_selector("#user-tools")
        return page

    return login


def screenshot(page: Any, name: str, mask: list[Any] | None = None) -> Path:
    """A full-page PNG in test-artifacts/; `mask` boxes over what must not be kept (secrets)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True, mask=mask or [])
    return path
