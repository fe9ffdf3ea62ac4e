"""The back office in a real browser: each group's view, a replay to the PEP sandbox, the export."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction

from bonuses import services as bonus_services
from bonuses.models import BonusType
from events import services
from events.models import OutboxMessage
from pepbridge.pep.client import PepClient
from pepbridge.sandbox import SandboxServer
from reconciliation.models import AuditStep
from reconciliation.services import resync_players
from tests.admin.conftest import make_assignments, outbox_rows
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.sqlite_pass, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(client_id="bridge", client_secret="s3cret", token_lifetime=300) as server:
        yield server


@pytest.fixture
def pep(sandbox: SandboxServer) -> Iterator[PepClient]:
    client = PepClient(
        base_url=sandbox.base_url,
        client_id=sandbox.client_id,
        client_secret=sandbox.client_secret,
        attempts=1,
    )
    client.sleep = lambda seconds: None
    yield client
    client.close()


def drain(pep: PepClient) -> int:
    return services.drain(max_seconds=5, worker="browser-test", client=pep, sleep=lambda s: None)


@pytest.mark.parametrize(
    ("group", "sees", "does_not_see"),
    [
        ("Support", ["Outbox messages", "Players", "Audit steps"], ["API keys"]),
        ("Bonus managers", ["Bonuses", "Outbox messages"], ["Audit steps", "API keys"]),
        ("Compliance", ["Audit steps", "Players"], ["API keys"]),
        ("Admins", ["API keys", "Outbox messages", "Audit steps", "Bonuses"], []),
    ],
)
def test_each_group_logs_in_and_sees_its_part(log_in, group, sees, does_not_see) -> None:
    page = log_in(group)
    content = page.locator("#content").inner_text()
    assert "Dashboard" in content
    assert [name for name in sees if name not in content] == []
    assert [name for name in does_not_see if name in content] == []


def test_support_replays_a_failed_delivery_and_pep_receives_it(
    log_in, live_server: Any, sandbox: SandboxServer, pep: PepClient
) -> None:
    with transaction.atomic():
        bonus_services.bonus_create(
            bonus_id="SPRING-5",
            name="Spring 5",
            bonus_type=BonusType.CASH,
            amount=5,
            currency="EUR",
        )
    sandbox.set_fault("bonus_offer_upsert", error_rate=1, status=400)
    drain(pep)
    row = OutboxMessage.objects.get()
    assert row.status == "failed"
    sandbox.clear_faults()

    page = log_in("Support")
    page.goto(f"{live_server.url}/admin/events/outboxmessage/?status__exact=failed")
    screenshot(page, "delivery-list-failed")
    page.check(f"input[name=_selected_action][value='{row.pk}']")
    page.select_option("select[name=action]", "replay_selected")
    page.click("button[name=index]")
    assert "1 failed message(s) queued for replay." in page.locator(".messagelist").inner_text()

    assert drain(pep) == 1  # the worker's next pass
    page.goto(f"{live_server.url}/admin/events/outboxmessage/{row.pk}/change/")
    assert "Delivered" in page.locator("#content-main").inner_text()
    delivered = [r for r in sandbox.received if r.message_type == "bonus_offer_upsert"]
    assert [r.status for r in delivered] == [400, 202]
    page.goto(f"{live_server.url}/admin/events/outboxmessage/")
    screenshot(page, "delivery-list")


def test_compliance_exports_the_audit_trail(log_in, live_server: Any) -> None:
    resync_players(player_ids=["p-1"], actor="someone")  # writes audit steps
    assert AuditStep.objects.exists()
    page = log_in("Compliance")
    page.goto(f"{live_server.url}/admin/reconciliation/auditstep/")
    with page.expect_download() as info:
        page.click("text=Export CSV")
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    lines = Path(download.path()).read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("step_id,time_utc,step,player_id")
    assert len(lines) == 1 + AuditStep.objects.count()
    assert any("someone" in line for line in lines[1:])


def test_the_dashboard_renders_its_charts(log_in, live_server: Any) -> None:
    outbox_rows(6, status="delivered")
    outbox_rows(2, status="failed", message_type="money_transaction")
    make_assignments(3)
    page = log_in("Support")
    page.click("text=Dashboard")
    page.wait_for_selector("#bo-deliveries-chart svg")
    assert page.locator("#bo-assign-chart svg").count() == 1
    assert page.locator("#bo-circuit").inner_text() == "closed"
    assert page.locator("#bo-deliveries-chart rect.delivered").count() == 1
    assert page.locator("#bo-failures-type").inner_text().count("money_transaction") == 1
    screenshot(page, "dashboard")
