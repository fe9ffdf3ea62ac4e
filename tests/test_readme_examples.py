"""The README's copy-paste examples for operators work as written, in the order written.

The requests are read out of the README itself (method, path and body of every `curl`), so an
example that drifts from the API fails here instead of on an operator's first day. Its shell lines
are run as written in a fresh shell (no virtualenv active), where a bare `python manage.py` fails
with "No module named 'django'" (issue 13).
"""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.core.management import call_command, get_commands
from django.test import Client

from tests.browser.conftest import CHROMIUM, SKIP_REASON

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MANAGE = re.compile(r"(?P<python>[\w./-]*python[\w.]*) manage\.py (?P<command>\w+)")
ACTIVATE = ". .venv/bin/activate"
CURL = re.compile(
    r'curl -s -X (?P<method>[A-Z]+) "\$BRIDGE(?P<path>[^"]+)"(?P<rest>.*?)(?=\n\n|\Z)', re.S
)
BODY = re.compile(r"-d '(?P<body>.*?)'", re.S)

pytestmark = pytest.mark.django_db


def _sending_section() -> str:
    text = README.read_text()
    section = text.split("## Sending data to pepbridge", 1)[1].split("\n## ", 1)[0]
    return section.split("```sh", 1)[1].split("```", 1)[0]


def _examples() -> list[tuple[str, str, dict | None]]:
    found = []
    for match in CURL.finditer(_sending_section()):
        body = BODY.search(match["rest"])
        found.append((match["method"], match["path"], json.loads(body["body"]) if body else None))
    return found


def _token_as_the_readme_gets_it() -> str:
    out = io.StringIO()
    command = "create_pep_client operator-platform --scope ingest --json"
    assert command in _sending_section()
    call_command(*command.split(), stdout=out)
    issued = json.loads(out.getvalue())
    basic = base64.b64encode(f"{issued['client_id']}:{issued['client_secret']}".encode()).decode()
    answer = Client().post(
        "/oauth/token",
        urlencode({"grant_type": "client_credentials", "scope": "ingest"}),
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )
    assert answer.status_code == 200, answer.content
    return answer.json()["access_token"]


def test_it_finds_every_example_in_the_readme() -> None:
    methods = [(method, path) for method, path, _ in _examples()]
    assert methods == [
        ("POST", "/ingest/v1/players"),
        ("PATCH", "/ingest/v1/players/p-10042"),
        ("POST", "/ingest/v1/events"),
        ("POST", "/ingest/v1/events/batch"),
        ("DELETE", "/ingest/v1/players/p-10042"),
    ]


def test_it_accepts_every_readme_example_in_order() -> None:
    client = Client(HTTP_AUTHORIZATION=f"Bearer {_token_as_the_readme_gets_it()}")
    statuses = []
    for method, path, body in _examples():
        data = json.dumps(body) if body is not None else ""
        answer = client.generic(method, path, data, content_type="application/json")
        assert answer.status_code < 300, (method, path, answer.content)
        if path.endswith("/batch"):
            results = answer.json()["results"]
            assert {r["status"] for r in results} == {"accepted"}, results
        statuses.append(answer.status_code)
    assert statuses[0] == 201  # the player is created, as the README's comment says
    assert statuses[2] == 202  # the round is accepted


def _shell_blocks() -> list[str]:
    return [part.split("```", 1)[0] for part in README.read_text().split("```sh\n")[1:]]


def test_every_manage_py_command_in_the_readme_works_in_a_fresh_shell() -> None:
    """`.venv/bin/python manage.py`, or a bare `python` only after the block's activate line."""
    text = README.read_text()
    activated = [block.split(ACTIVATE, 1)[1] for block in _shell_blocks() if ACTIVATE in block]
    outside = text
    for rest in activated:
        outside = outside.replace(rest, "")
    found = list(MANAGE.finditer(text))
    assert len(found) >= 8, found
    bare = [m[0] for m in MANAGE.finditer(outside) if m["python"] != ".venv/bin/python"]
    assert bare == []
    unknown = {m["command"] for m in found} - set(get_commands())
    assert unknown == set()


@pytest.mark.own_sqlite
def test_the_readme_client_lines_run_as_written_in_a_fresh_shell(tmp_path: Path) -> None:
    """The first lines of "Sending data" in bash with no virtualenv on PATH, after a migrate."""
    lines = _sending_section().strip().splitlines()
    client_lines = [line for line in lines[:4] if line.startswith("CLIENT")]
    assert len(client_lines) == 3, lines[:4]
    script = "\n".join(
        [
            "set -euo pipefail",
            ".venv/bin/python manage.py migrate --no-input > /dev/null",
            *client_lines,
            'echo "$CLIENT_ID ${#CLIENT_SECRET}"',
        ]
    )
    fresh = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PEPBRIDGE_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path}/readme.sqlite3",
    }
    done = subprocess.run(
        ["bash", "-c", script], cwd=ROOT, env=fresh, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    client_id, secret_length = done.stdout.split()
    assert len(client_id) >= 20
    assert int(secret_length) >= 20


def test_the_readme_says_how_browser_tests_get_chromium_and_what_is_skipped() -> None:
    text = README.read_text()
    section = text.split("## Tests and CI", 1)[1]
    assert "apt-get install -y --no-install-recommends chromium" in section
    assert f"`{SKIP_REASON}`" in section
    assert str(CHROMIUM) in section
    ci = (ROOT / ".ci" / "run").read_text()
    assert "apt-get -qq install -y --no-install-recommends chromium" in ci
    assert "PEPBRIDGE_REQUIRE_BROWSER=1" in ci
