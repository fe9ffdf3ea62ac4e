"""One log line per expected client error; server errors keep their traceback (issue 13).

A 403 from the admin used to print a ~40-line traceback twice: once through Django's own console
handler (plain) and once through ours (logfmt `exc=`).
"""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from pepbridge.logfmt import LogfmtFormatter, SkipClientErrors


@pytest.fixture
def console() -> Iterator[io.StringIO]:
    """What settings.LOGGING's console handler writes, captured instead of going to stderr."""
    handlers = [h for h in logging.getLogger().handlers if isinstance(h.formatter, LogfmtFormatter)]
    assert len(handlers) == 1
    stream = io.StringIO()
    previous = handlers[0].setStream(stream)
    yield stream
    handlers[0].setStream(previous)


def _record(*, exc: bool) -> logging.LogRecord:
    try:
        raise PermissionError("no")
    except PermissionError:
        exc_info = sys.exc_info() if exc else None
    return logging.LogRecord(
        "django.request", logging.WARNING, __file__, 1, "Forbidden: /x", (), exc_info
    )


@pytest.mark.django_db
def test_a_403_in_the_admin_is_one_line(console: io.StringIO) -> None:
    support = get_user_model().objects.create_user("support", password="pw", is_staff=True)
    support.groups.add(Group.objects.get(name="Support"))  # may not see API keys
    client = Client()
    client.force_login(support)
    assert client.get("/admin/api/apikey/").status_code == 403
    lines = console.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert "status_code=403" in lines[0]
    assert "/admin/api/apikey/" in lines[0]
    assert "exc=" not in lines[0]


def test_django_has_no_console_handler_of_its_own() -> None:
    assert logging.getLogger("django").handlers == []
    assert logging.getLogger("django").propagate


def test_a_server_error_keeps_its_traceback() -> None:
    record = _record(exc=True)
    record.status_code = 500
    assert "exc=" in LogfmtFormatter().format(record)
    record.status_code = 403
    assert "exc=" not in LogfmtFormatter().format(record)


def test_runserver_access_log_skips_what_django_request_already_said() -> None:
    record = _record(exc=False)
    assert SkipClientErrors().filter(record)  # no status: kept
    record.status_code = 404
    assert not SkipClientErrors().filter(record)
    record.status_code = 200
    assert SkipClientErrors().filter(record)
    record.status_code = 502
    assert SkipClientErrors().filter(record)
    server = logging.getLogger("django.server")
    assert [type(f) for h in server.handlers for f in h.filters] == [SkipClientErrors]
