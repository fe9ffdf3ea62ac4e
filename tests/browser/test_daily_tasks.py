"""Each staff role's daily task, end to end in Chromium, as issue 13's "Done when" describes.

Support finds a player by the start of her e-mail (any case), sees why a message to PEP is stuck,
replays it from the message's own page and sees it delivered. A bonus manager cancels a bonus with
a reason and finds that action in the staff-actions list. Compliance filters the audit trail and
exports what the filter shows. An admin creates a credential and disables it. Every step leaves a
screenshot in test-artifacts/ (docs/back-office.md shows them). A last test loads every list page
of the four apps at 1,400 px and asserts none needs sideways scrolling.

Buttons and links are found by their visible names (role and text), as a person finds them, so
a test breaks when the page stops saying what it does, not when markup moves.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib import admin
from django.db import transaction
from oauth2_provider.models import get_application_model

from bonuses.models import Bonus, BonusType, PlayerBonus
from events import services
from events.models import DeliveryAttempt, OutboxMessage
from pepbridge.api import services as api_services
from pepbridge.backoffice.models import StaffAction
from pepbridge.backoffice.services import staff_action_record
from pepbridge.pep.client import PepClient
from pepbridge.sandbox import SandboxServer
from players.loading import ingest_players
from players.models import Player
from reconciliation.models import AuditStep, ReconciliationRequest
from tests.admin.conftest import make_player_bonuses, make_players, outbox_rows
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.sqlite_pass, pytest.mark.django_db(transaction=True)]

APPS = ("players", "bonuses", "events", "reconciliation")
LAPTOP_WIDTH = 1400
REASON = "Granted twice by mistake"
REASON_FIELD = "textarea[name=reason], input[name=reason]"
# How far the page, or any box inside it that scrolls sideways on its own (the admin wraps its
# result table in one), is wider than what shows: what a person would have to scroll, in px.
SIDEWAYS_SCROLL_JS = """() => {
  const root = document.documentElement;
  const boxes = [...document.querySelectorAll("#content *")].filter((el) =>
    ["auto", "scroll"].includes(getComputedStyle(el).overflowX));
  return Math.max(root.scrollWidth - root.clientWidth,
                  ...boxes.map((el) => el.scrollWidth - el.clientWidth), 0);
}"""


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
    """What the worker's next pass does."""
    return services.drain(max_seconds=5, worker="browser-test", client=pep, sleep=lambda s: None)


def content(page: Any) -> str:
    return page.locator("#content").inner_text()


def press(page: Any, name: str) -> None:
    """Click the page's button (or button-like link) called `name`, outside the action menu."""
    pattern = re.compile(rf"^\s*{name}", re.I)
    main = page.locator("#content-main, #content").first
    button = main.get_by_role("button", name=pattern)
    target = button if button.count() else main.get_by_role("link", name=pattern)
    target.first.click()


def confirm_with_reason(page: Any, reason: str, verb: str, shot: str) -> None:
    """A risky action asks for a reason on a confirmation page: give it, then confirm."""
    field = page.locator(REASON_FIELD)
    field.first.wait_for()
    field.first.fill(reason)
    screenshot(page, shot)
    form = page.locator("#content form", has=field.first)
    for name in (r"^\s*(yes|confirm)", rf"^\s*{verb}"):
        button = form.get_by_role("button", name=re.compile(name, re.I))
        if button.count():
            button.first.click()
            return
    form.locator("[type=submit]").first.click()


def run_action(page: Any, action: str) -> None:
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")
    settled(page)


def settled(page: Any) -> None:
    """After a POST: wait for either the result's message or a page asking for a reason."""
    page.locator(f".messagelist, {REASON_FIELD}").first.wait_for()


def asks_for_reason(page: Any) -> bool:
    return page.locator(REASON_FIELD).count() > 0


def test_support_finds_a_player_by_her_email_and_replays_her_stuck_message(
    log_in, live_server: Any, sandbox: SandboxServer, pep: PepClient
) -> None:
    with transaction.atomic():
        make_players(3)  # others, so the search has something to leave out
        ingest_players(
            [
                {
                    "playerId": "p-lena",
                    "username": "lena",
                    "email": "Lena.Muster@example.com",
                    "country": "CH",
                    "currency": "EUR",
                    "registrationDate": "2025-01-06T09:00:00Z",
                }
            ]
        )
    sandbox.set_fault("player_registration", error_rate=1, status=400)
    drain(pep)
    stuck = OutboxMessage.objects.get(player_id="p-lena", message_type="player_registration")
    assert stuck.status == "failed"
    sandbox.clear_faults()

    page = log_in("Support")
    page.goto(f"{live_server.url}/admin/players/player/")
    page.fill("#searchbar", "LENA.MUSTER")  # the start of the address, in another case
    page.press("#searchbar", "Enter")
    screenshot(page, "support-1-find-player-by-email")
    results = page.locator("#result_list tbody tr")
    assert results.count() == 1, content(page)
    assert "p-lena" in results.first.inner_text()

    results.first.locator("a").first.click()
    page.wait_for_selector("#content-main")
    screenshot(page, "support-2-player-page")
    page.get_by_role("link", name=re.compile(rf"#{stuck.pk} player_registration")).click()
    page.wait_for_selector("#content-main")
    why = content(page)
    assert "400" in why  # PEP's answer, on the message's own page
    assert "injected failure" in why  # ... in PEP's words
    assert "Failed" in why
    screenshot(page, "support-3-why-the-message-is-stuck")

    press(page, "Replay")
    settled(page)
    if asks_for_reason(page):
        confirm_with_reason(page, "PEP fixed its mapping", "replay", "support-3b-replay-reason")
    page.wait_for_selector(".messagelist")
    assert "replay" in page.locator(".messagelist").inner_text().lower()

    assert drain(pep) == 1  # the worker's next pass
    page.goto(f"{live_server.url}/admin/events/outboxmessage/{stuck.pk}/change/")
    after = content(page)
    assert "Delivered" in after
    assert "support" in after  # who replayed it stays on the row
    screenshot(page, "support-4-delivered-after-replay")
    delivered = [r for r in sandbox.received if r.message_type == "player_registration"]
    assert [r.status for r in delivered] == [400, 202]


def cancel_with_a_reason(page: Any, live_server: Any) -> PlayerBonus:
    """The bonus manager's part: select one granted bonus, cancel it, say why."""
    Bonus.objects.create(
        bonus_id="CASH10", name="10 EUR cash", bonus_type=BonusType.CASH, amount=10, currency="EUR"
    )
    target, other = make_player_bonuses(2)
    page.goto(f"{live_server.url}/admin/bonuses/playerbonus/")
    screenshot(page, "bonus-manager-1-player-bonuses")
    page.check(f"input[name=_selected_action][value='{target.pk}']")
    run_action(page, "cancel_selected")
    confirm_with_reason(page, REASON, "cancel", "bonus-manager-2-confirm-with-reason")
    page.wait_for_selector(".messagelist")
    assert "cancelled" in page.locator(".messagelist").inner_text().lower()
    target.refresh_from_db()
    assert target.status == PlayerBonus.Status.CANCELLED
    other.refresh_from_db()
    assert other.status != PlayerBonus.Status.CANCELLED  # only the one selected
    return target


def test_bonus_manager_cancels_a_bonus_with_a_reason_kept_in_its_history(
    log_in, live_server: Any
) -> None:
    page = log_in("Bonus managers")
    target = cancel_with_a_reason(page, live_server)
    page.goto(f"{live_server.url}/admin/bonuses/playerbonus/{target.pk}/history/")
    history = content(page)
    assert "bonus-managers" in history
    assert REASON in history
    screenshot(page, "bonus-manager-3-history")


def test_bonus_manager_finds_their_cancellation_in_the_staff_actions_list(
    log_in, live_server: Any
) -> None:
    page = log_in("Bonus managers")
    cancel_with_a_reason(page, live_server)
    page.goto(f"{live_server.url}/admin/")
    page.get_by_role("link", name=re.compile(r"staff actions", re.I)).first.click()
    page.wait_for_selector("#result_list")
    rows = page.locator("#result_list tbody tr")
    mine = [rows.nth(i).inner_text() for i in range(rows.count())]
    assert any("bonus-managers" in row and REASON in row for row in mine), mine
    screenshot(page, "bonus-manager-4-staff-actions")


def audit_trail(cause: str = "pep:reconciliation r-1", detail: str = "") -> None:
    """Two players' steps of three kinds, as PEP's reconciliation request leaves them."""
    request = ReconciliationRequest.objects.create(
        source=ReconciliationRequest.Source.API,
        outcome=ReconciliationRequest.Outcome.ACCEPTED,
        request_id="r-1",
        cause=cause,
    )
    kinds = (AuditStep.Kind.RECEIVED, AuditStep.Kind.VALUE_SENT, AuditStep.Kind.PEP_ACCEPTED)
    AuditStep.objects.bulk_create(
        AuditStep(request=request, kind=kind, cause=cause, player_id=player, field="email",
                  detail=detail or f"{kind} for {player}")
        for player in ("p-1", "p-2")
        for kind in kinds
    )  # fmt: skip


def test_compliance_filters_the_audit_trail_and_exports_what_it_shows(
    log_in, live_server: Any
) -> None:
    audit_trail()
    kinds = set(AuditStep.objects.values_list("kind", flat=True))
    assert len(kinds) == 3
    page = log_in("Compliance")
    page.goto(f"{live_server.url}/admin/reconciliation/auditstep/")
    screenshot(page, "compliance-1-audit-trail")

    page.fill("#searchbar", "p-2")
    page.press("#searchbar", "Enter")
    page.wait_for_selector("#result_list")
    kind = sorted(kinds)[0]
    label = AuditStep.Kind(kind).label
    page.locator("#changelist-filter").get_by_role("link", name=label, exact=True).click()
    page.wait_for_selector("#result_list")
    shown = AuditStep.objects.filter(player_id="p-2", kind=kind).count()
    assert page.locator("#result_list tbody tr").count() == shown
    screenshot(page, "compliance-2-filtered")

    with page.expect_download() as info:
        page.click("text=Export CSV")
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    lines = Path(download.path()).read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("step_id,time_utc,step,player_id")
    assert len(lines) == 1 + shown  # what the filter shows, not the whole trail
    assert all(",p-2," in line for line in lines[1:])


def test_compliance_filters_the_staff_actions_and_exports_what_it_shows(
    log_in, live_server: Any, django_user_model: Any
) -> None:
    """ "Who cancelled demo-1001's CASH10?": the staff-actions list, filtered, as CSV."""
    manager = django_user_model.objects.create_user("mara", is_staff=True)
    admin_user = django_user_model.objects.create_user("ivo", is_staff=True)
    bonuses = make_player_bonuses(2)
    with transaction.atomic():
        staff_action_record(
            user=manager,
            action=StaffAction.Kind.CANCEL_PLAYER_BONUS,
            objects=bonuses[:1],
            outcome="1 cancelled",
            reason=REASON,
        )
        staff_action_record(
            user=admin_user, action=StaffAction.Kind.FORFEIT_PLAYER_BONUS, objects=bonuses[1:],
            outcome="1 forfeited", reason="Abuse confirmed",
        )  # fmt: skip
    page = log_in("Compliance")
    page.goto(f"{live_server.url}/admin/")
    page.get_by_role("link", name=re.compile(r"staff actions", re.I)).first.click()
    page.wait_for_selector("#result_list")
    assert page.locator("#result_list tbody tr").count() == 2
    label = StaffAction.Kind.CANCEL_PLAYER_BONUS.label
    page.locator("#changelist-filter").get_by_role("link", name=label, exact=True).click()
    page.wait_for_selector("#result_list")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    assert "mara" in rows.first.inner_text()
    screenshot(page, "compliance-3-staff-actions-filtered")

    with page.expect_download() as info:
        page.get_by_role("link", name=re.compile(r"export", re.I)).first.click()
    lines = Path(info.value.path()).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2, lines  # the header and the one cancellation the filter shows
    assert "mara" in lines[1] and REASON in lines[1]


def test_admin_creates_a_credential_and_disables_it(log_in, live_server: Any) -> None:
    application = get_application_model()
    page = log_in("Admins")
    page.goto(f"{live_server.url}/admin/oauth2_provider/application/add/")
    page.fill("input[name=name]", "Operator platform (staging)")
    page.select_option("select[name=scope]", "ingest")
    screenshot(page, "admin-1-new-credential")
    page.locator("#content form").get_by_role("button").or_(
        page.locator("#content form input[type=submit]")
    ).first.click()
    page.wait_for_selector("#content-main")
    issued = content(page)
    client = application.objects.get(name="Operator platform (staging)")
    assert client.client_id in issued
    assert "Copy the secret now" in issued
    secret = page.locator("#issued-secret")
    shown_once = secret.input_value()
    assert len(shown_once) >= 20
    screenshot(page, "admin-2-secret-shown-once", mask=[secret])  # docs/img keeps no secret

    page.goto(f"{live_server.url}/admin/oauth2_provider/application/")
    page.check(f"input[name=_selected_action][value='{client.pk}']")
    run_action(page, "disable")
    if asks_for_reason(page):
        confirm_with_reason(page, "Staging retired", "disable", "admin-3a-disable-reason")
    page.wait_for_selector(".messagelist")
    assert "disabled" in page.locator(".messagelist").inner_text().lower()
    assert api_services.oauth_client_is_disabled(application.objects.get(pk=client.pk))
    row = page.locator("#result_list tbody tr", has_text="Operator platform (staging)")
    assert "Disabled" in row.inner_text()
    screenshot(page, "admin-3-credential-disabled")

    page.goto(f"{live_server.url}/admin/")
    page.get_by_role("link", name=re.compile(r"staff actions", re.I)).first.click()
    page.wait_for_selector("#result_list")
    listed = page.locator("#result_list").inner_text()
    for kind in (StaffAction.Kind.CREDENTIAL_CREATE, StaffAction.Kind.CLIENT_DISABLE):
        assert kind.label in listed, listed
    assert shown_once not in listed  # the record names the credential, never its secret
    screenshot(page, "admin-4-staff-actions")


# Long values as they come in real rows: PEP's JSON answers, request ids, a feedback file's URL,
# a double-barrelled e-mail address, a marketing bonus name.
PEP_ANSWER = (
    "PEP answered 400 to POST /rx-api/players-data/v1/registration "
    '{"code":400,"details":[{"field":"registrationDate","message":"must be in the past"},'
    '{"field":"registrationDevice","message":"must be one of desktop, mobile, tablet"}],'
    '"message":"Validation failed for request 7f3c9a2e-5b1d-4c8e-9f00-123456789abc"}'
)
REQUEST_ID = "pep-req-7f3c9a2e-5b1d-4c8e-9f00-123456789abc"
FEEDBACK_URL = (
    "https://cdn.example.com/pep/migration-feedback/2026/12/03/"
    "7f3c9a2e-5b1d-4c8e-9f00-123456789abc.json.gz"
)


def _long_values() -> None:
    """Rows with the long values that pushed lists off screen: errors, causes, details."""
    rows = outbox_rows(3, status="failed")
    OutboxMessage.objects.filter(pk__in=[r.pk for r in rows]).update(last_error=PEP_ANSWER)
    DeliveryAttempt.objects.filter(message__in=rows).update(
        error_excerpt=PEP_ANSWER, worker="bridge-worker-2.internal:48211:7f3c9a2e"
    )
    make_player_bonuses(2)
    audit_trail(
        cause=f"pep:reconciliation {REQUEST_ID} (migration feedback, chunk 12 of 40)",
        detail=f"feedback details downloaded from {FEEDBACK_URL} (1,204 players)",
    )
    Player.objects.filter(player_id="pb0-0").update(
        email="anna-lena.mustermann-schneider@mail.some-provider.example.com"
    )
    Bonus.objects.update(name="Welcome package: 100% up to 500 EUR plus 50 free spins on Starburst")
    PlayerBonus.objects.update(amount=Decimal("20"), source_request_id=REQUEST_ID)


def test_no_list_page_of_the_four_apps_needs_sideways_scrolling_at_1400_px(
    log_in, live_server: Any
) -> None:
    _long_values()
    page = log_in("Admins")
    assert page.viewport_size["width"] == LAPTOP_WIDTH
    lists = sorted(
        f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        for model in admin.site._registry
        if model._meta.app_label in APPS
    )
    assert len(lists) >= 12
    too_wide = {}
    for url in lists:
        answer = page.goto(f"{live_server.url}{url}")
        assert answer is not None and answer.status == 200, url
        overflow = page.evaluate(SIDEWAYS_SCROLL_JS)
        if overflow > 0:
            too_wide[url] = overflow
            screenshot(page, "too-wide-" + url.strip("/").replace("/", "-"))
    assert too_wide == {}, f"pages wider than {LAPTOP_WIDTH} px (overflow in px): {too_wide}"
