"""No secret leaks: run the whole flow, then search logs, exceptions and admin pages for secrets.

Every credential the flow uses (inbound OAuth secrets and tokens, API keys, the identity secret
and identity tokens, the sandbox's client secret and every token it issued) is collected; the
logs (every logger at DEBUG, each record also rendered by the logfmt formatter so `extra=` fields
are searched), the text of every PEP error raised, every admin page and every HTTP answer (bar the
token endpoint's own successful answers) must contain none of them.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from bonuses import services as bonus_services
from bonuses import tasks as bonus_tasks
from bonuses.services import KICK_KEY
from events.models import OutboxMessage
from events.services import send_now
from events.services.delivery import drain
from events.services.subscriptions import subscription_create
from pepbridge.api.services import api_key_create, oauth_client_create
from pepbridge.logfmt import LogfmtFormatter
from pepbridge.pep import errors as pep_errors
from pepbridge.pep.client import reset_pep_client
from pepbridge.sandbox import SandboxServer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
OBJECTS_PER_MODEL = 3
FIRST_PARTY_LOGGERS = ("pepbridge", "players", "bonuses", "events", "reconciliation")


@dataclass
class Evidence:
    """Everything the flow used that must stay secret, and everything it produced to search."""

    secrets: dict[str, str] = field(default_factory=dict)
    texts: list[tuple[str, str]] = field(default_factory=list)  # (where, text)

    def secret(self, name: str, value: str) -> str:
        assert value, name
        self.secrets[name] = value
        return value

    def leaks(self) -> list[str]:
        """Each (secret, place) found, as text."""
        found = []
        for where, text in self.texts:
            for name, value in self.secrets.items():
                if value in text:
                    at = text.index(value)
                    found.append(f"{name} in {where}: ...{text[max(at - 80, 0) : at]}<SECRET>")
        return found


class RecordingClient(Client):
    """A test client that keeps every answer's body to search (bar the tokens it asked for)."""

    def __init__(self, evidence: Evidence, **defaults: Any) -> None:
        super().__init__(**defaults)
        self.evidence = evidence

    def request(self, **request: Any) -> Any:
        response = super().request(**request)
        path = request["PATH_INFO"]
        if not (path.startswith("/oauth/token") and response.status_code == 200):
            where = f"answer to {request['REQUEST_METHOD']} {path}"
            self.evidence.texts.append((where, response.content.decode(errors="replace")))
        return response


@pytest.fixture
def evidence() -> Evidence:
    return Evidence()


@pytest.fixture
def sandbox(evidence: Evidence) -> Iterator[SandboxServer]:
    """The PEP sandbox with its own credentials; every token it issues is recorded as a secret."""
    server = SandboxServer(client_id="bridge-s1", client_secret=secrets.token_urlsafe(32))
    evidence.secret("sandbox client secret", server.client_secret)
    issuer = server.sandbox.tokens
    issue = issuer.issue

    def recording_issue() -> str:
        token = issue()
        evidence.secret(f"sandbox token #{len(issued) + 1}", token)
        issued.append(token)
        return token

    issued: list[str] = []
    issuer.issue = recording_issue  # type: ignore[method-assign]
    server.issued = issued  # type: ignore[attr-defined]
    with server:
        yield server


@pytest.fixture
def bridge_to_sandbox(settings, sandbox: SandboxServer) -> Iterator[None]:
    """Point the process's PEP client at the sandbox (and drop it again afterwards)."""
    settings.PEP_BASE_URL = sandbox.base_url
    settings.PEP_CLIENT_ID = sandbox.client_id
    settings.PEP_CLIENT_SECRET = sandbox.client_secret
    reset_pep_client()
    cache.delete(KICK_KEY)
    yield
    reset_pep_client()


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Capture every record as an operator who sets the root logger to DEBUG would see it.

    Our own loggers are forced to DEBUG too; third-party loggers keep the levels that
    settings.LOGGING gives them (oauthlib, for one, logs issued tokens at DEBUG and is capped).
    """
    caplog.set_level(logging.DEBUG)
    isolated = []
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if not isinstance(logger, logging.Logger):
            continue
        if name.split(".")[0] in FIRST_PARTY_LOGGERS:
            caplog.set_level(logging.DEBUG, logger=name)
        if not logger.propagate:
            logger.addHandler(caplog.handler)
            isolated.append(logger)
    yield caplog
    for logger in isolated:
        logger.removeHandler(caplog.handler)


@pytest.fixture
def pep_error_texts(monkeypatch, evidence: Evidence) -> None:
    """Record the text of every PEP error raised anywhere, even those the bridge handles itself."""
    original = pep_errors.PepError.__init__

    def recording_init(self: pep_errors.PepError, message: str, **kwargs: Any) -> None:
        original(self, message, **kwargs)
        evidence.texts.append((f"{type(self).__name__}", f"{self!s} {self.body_excerpt}"))

    monkeypatch.setattr(pep_errors.PepError, "__init__", recording_init)


# --- the flow ------------------------------------------------------------------------------


def _token(client: Client, evidence: Evidence, name: str, response: Any) -> str:
    assert response.status_code == 200, response.content
    return evidence.secret(f"access token ({name})", response.json()["access_token"])


def _issue_tokens(client: Client, evidence: Evidence) -> dict[str, str]:
    """Create the credentials and ask /oauth/token for tokens with form, Basic and JSON bodies."""
    pep = oauth_client_create(name="PEP", scope="pep")
    ingest = oauth_client_create(name="operator platform", scope="ingest")
    key = api_key_create(name="PEP key", scope="pep")
    evidence.secret("PEP OAuth client secret", pep.client_secret)
    evidence.secret("ingest OAuth client secret", ingest.client_secret)
    evidence.secret("API key", key.api_key)
    # pbk_<hex key id>_<secret>: the secret itself may contain "_", so split from the left.
    evidence.secret("API key secret part", key.api_key.split("_", 2)[2])
    grant = {"grant_type": "client_credentials"}
    form = {**grant, "client_id": pep.client_id, "client_secret": pep.client_secret}
    basic = base64.b64encode(f"{pep.client_id}:{pep.client_secret}".encode()).decode()
    wrong_scope = {**form, "scope": "ingest"}
    refused = client.post("/oauth/token", urlencode(wrong_scope), content_type=FORM)
    assert refused.status_code == 400, refused.content
    ingest_body = {"clientId": ingest.client_id, "clientSecret": ingest.client_secret}
    return {
        "form": _token(client, evidence, "form", client.post(
            "/oauth/token", urlencode(form), content_type=FORM)),
        "basic": _token(client, evidence, "basic", client.post(
            "/oauth/token/", urlencode(grant), content_type=FORM,
            headers={"Authorization": f"Basic {basic}"})),
        "json": _token(client, evidence, "json", client.post(
            "/oauth/token", json.dumps(form), content_type=JSON)),
        "ingest": _token(client, evidence, "ingest", client.post(
            "/oauth/token", json.dumps(ingest_body), content_type=JSON)),
        "api_key": key.api_key,
    }  # fmt: skip


def _ingest(client: Client, token: str) -> None:
    """The operator's platform registers players and sends an event with its ingest token."""
    auth = {"Authorization": f"Bearer {token}"}
    for player_id in ("p-1", "p-2"):
        player = {
            "playerId": player_id,
            "email": f"{player_id}@example.com",
            "country": "CH",
            "currency": "EUR",
            "registrationDate": "2024-03-01T10:15:00Z",
        }
        answer = client.post("/ingest/v1/players", json.dumps(player), JSON, headers=auth)
        assert answer.status_code == 201, answer.content
    deposit = {
        "type": "money_transaction",
        "playerId": "p-1",
        "transactionId": "d-1",
        "transactionType": "DEPOSIT",
        "transactionStatus": "APPROVED",
        "amount": 50.1,
        "currency": "EUR",
        "date": "2024-05-02T07:55:00Z",
        "realMoneyBalance": 100,
        "bonusMoneyBalance": 0,
    }
    answer = client.post("/ingest/v1/events", json.dumps(deposit), JSON, headers=auth)
    assert answer.status_code == 202, answer.content


def _assign(client: Client, headers: dict[str, str], expect: int, **body: Any) -> None:
    request = {
        "requestId": "r-1",
        "eventDate": "2026-05-01T12:00:00.000Z",
        "playerId": "p-1",
        "bonusOfferId": "WELCOME-10",
        **body,
    }
    answer = client.post("/api/bonus/v1/assign-bonus", json.dumps(request), JSON, headers=headers)
    assert answer.status_code == expect, answer.content


def _operator_api(client: Client, tokens: dict[str, str]) -> None:
    """PEP calls every Operator API endpoint, with every way of presenting a credential."""
    listed = client.get("/api/bonus/v1/bonuses", headers={"x-authorization": tokens["form"]})
    assert listed.status_code == 200, listed.content
    _assign(client, {"x-authorization": f"Bearer {tokens['basic']}"}, 202)
    _assign(client, {"x-authorization": f"Bearer {tokens['basic']}"}, 202)  # duplicate
    _assign(client, {"x-authorization": f"Bearer {tokens['basic']}"}, 409, playerId="p-2")
    _assign(client, {"Authorization": f"Bearer {tokens['json']}"}, 400, requestId="r-2",
            bonusOfferId="NO-SUCH-BONUS")  # fmt: skip
    _assign(client, {"x-authorization": tokens["api_key"]}, 400, requestId="")
    _assign(client, {"x-authorization": f"Bearer {tokens['ingest']}"}, 403, requestId="r-3")
    recon = {
        "requestId": "recon-1",
        "eventDate": "2026-05-01T12:00:00.000Z",
        "players": [{"playerId": "p-1", "missingFields": ["email"]}],
    }
    answer = client.post(
        "/api/reconciliation/v1/players",
        json.dumps(recon),
        JSON,
        headers={"x-api-key": tokens["api_key"]},
    )
    assert answer.status_code in (200, 202), answer.content


def _identity(client: Client, evidence: Evidence, settings, api_key: str) -> None:
    """A valid identity token, one signed with another key and one naming nobody."""
    settings.PLAYER_IDENTITY_SECRET = evidence.secret(
        "PLAYER_IDENTITY_SECRET", secrets.token_urlsafe(32)
    )
    exp = int(time.time()) + 600
    sign = settings.PLAYER_IDENTITY_SECRET
    cases = [
        ("valid", jwt.encode({"sub": "p-1", "exp": exp}, sign, algorithm="HS256"), 200),
        ("forged", jwt.encode({"sub": "p-1", "exp": exp}, "x" * 43, algorithm="HS256"), 401),
        ("unknown", jwt.encode({"sub": "nobody", "exp": exp}, sign, algorithm="HS256"), 401),
    ]
    for name, token, expect in cases:
        evidence.secret(f"identity token ({name})", token)
        answer = client.post(
            "/api/auth/v1/player",
            json.dumps({"identityToken": token}),
            JSON,
            headers={"x-api-key": api_key},
        )
        assert answer.status_code == expect, (name, answer.content)


def _deliver(sandbox: SandboxServer) -> None:
    """Grant, deliver everything; then expire PEP's tokens so the next delivery refreshes."""
    assert bonus_tasks.assignment_process_pending_task() == 1
    drain(max_seconds=10)
    assert len(sandbox.issued) == 1  # type: ignore[attr-defined]
    sandbox.expire_tokens()
    sandbox.set_fault("bonus_offer_upsert", error_rate=1.0, status=503)
    bonus_services.bonus_create(
        bonus_id="RELOAD-5", name="Reload 5", bonus_type="cash", amount=Decimal("5"),
        currency="EUR",
    )  # fmt: skip
    drain(max_seconds=1)  # 401, a fresh token, then PEP's 503: an error recorded for the admin
    sandbox.clear_faults()
    pending = OutboxMessage.objects.filter(status="pending").values_list("pk", flat=True)
    send_now(message_ids=list(pending))  # as staff would: the row and its lane become due
    drain(max_seconds=10)
    assert len(sandbox.issued) == 2  # type: ignore[attr-defined]
    assert any(record.status == 401 for record in sandbox.received)
    to_pep = OutboxMessage.objects.filter(subscription__isnull=True)
    assert not to_pep.exclude(status="delivered").exists()
    # Forwarded grants went to the sandbox, which has no such page: a dead letter with its answer.
    assert OutboxMessage.objects.filter(subscription__isnull=False, attempts__gt=0).exists()


def _subscribe(evidence: Evidence, sandbox: SandboxServer) -> None:
    """An operator webhook subscription: its signing secret must never show after creation."""
    url = f"{sandbox.base_url}/operator-hook"
    issued = subscription_create(name="operator platform", url=url, event_types=[])
    evidence.secret("webhook subscription secret", issued.secret)
    evidence.secret("webhook subscription key", issued.secret.removeprefix("whsec_"))


# --- what is searched ----------------------------------------------------------------------


def _first_pks(model_admin: admin.ModelAdmin) -> list[Any]:
    pks = model_admin.model._default_manager.order_by("pk").values_list("pk", flat=True)
    return list(pks[:OBJECTS_PER_MODEL])


def _pages(evidence: Evidence) -> None:
    """GET every admin page, /healthz, /metrics and the OpenAPI schema as a superuser."""
    staff = RecordingClient(evidence)
    staff.force_login(User.objects.create_superuser("root", "root@example.com", "x" * 20))
    urls = ["/admin/", "/admin/backoffice/dashboard/", "/healthz", "/metrics", "/api/schema/"]
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        urls.append(reverse("admin:{}_{}_changelist".format(*info)))
        for pk in _first_pks(model_admin):
            urls.append(reverse("admin:{}_{}_change".format(*info), args=[quote(pk)]))
    for url in urls:
        page = staff.get(url)
        assert page.status_code == 200, (url, page.status_code)


def _logs(caplog: pytest.LogCaptureFixture, evidence: Evidence) -> None:
    """Each record twice: its message, and the logfmt line (with every `extra=` field)."""
    formatter = LogfmtFormatter()
    for record in caplog.records:
        where = f"log {record.name}"
        evidence.texts.append((where, formatter.format(record)))
        evidence.texts.append((f"{where} (message)", record.getMessage()))


@pytest.fixture
def flow(
    settings,
    evidence: Evidence,
    sandbox: SandboxServer,
    bridge_to_sandbox: None,
    all_logs: pytest.LogCaptureFixture,
    pep_error_texts: None,
) -> Evidence:
    """Run the whole flow once and return what it used and what it produced."""
    client = RecordingClient(evidence)
    bonus_services.bonus_create(
        bonus_id="WELCOME-10", name="Welcome 10", bonus_type="cash", amount=Decimal("10"),
        currency="EUR", max_grants_per_player=1,
    )  # fmt: skip
    tokens = _issue_tokens(client, evidence)
    _subscribe(evidence, sandbox)
    _ingest(client, tokens["ingest"])
    _operator_api(client, tokens)
    _identity(client, evidence, settings, tokens["api_key"])
    _deliver(sandbox)
    _pages(evidence)
    _logs(all_logs, evidence)
    assert len(evidence.secrets) >= 15
    assert sum(where.startswith("log ") for where, _ in evidence.texts) > 20
    assert any(where == "PepTransientError" for where, _ in evidence.texts)
    return evidence


def test_it_leaks_no_secret_into_logs_errors_or_admin_pages(flow: Evidence) -> None:
    leaks = flow.leaks()
    assert not leaks, "\n".join(leaks)
