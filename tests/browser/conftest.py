"""Playwright on Debian's Chromium against pytest-django's live_server.

Skipped when /usr/bin/chromium or the playwright package is missing, except under
PEPBRIDGE_REQUIRE_BROWSER=1 (set by .ci/run, which installs both), where that is a failure; never
downloads a browser. Screenshots go to test-artifacts/ (gitignored) for the CI job to keep.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps as global_apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

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


@pytest.fixture
def staff_groups(transactional_db: None) -> None:
    """The migration's groups: a transactional test's flush may have removed them."""
    if Group.objects.count() < 4:
        from importlib import import_module

        import_module("pepbridge.migrations.0003_staff_groups").create_groups(global_apps, None)


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


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
