"""Lists fit a 1,400 px screen: few columns, long values cut with the whole in a tooltip."""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse

from events.models import DeliveryAttempt
from pepbridge.backoffice.services import staff_action_record
from reconciliation.models import AuditStep, ReconciliationRequest
from reconciliation.services import open_items
from tests.admin.conftest import outbox_rows

pytestmark = pytest.mark.django_db
# Under the 200 characters of a cause column, well over what a list cell shows.
LONG = "PEP answered: " + "the field playerId is not known to the platform; " * 3
MAX_COLUMNS = 8  # the browser test checks the real width (tests/browser)


def columns(page: str) -> int:
    head = page[page.index("<thead>") : page.index("</thead>")]
    return head.count('scope="col"') - head.count("action-checkbox-column")


@pytest.mark.parametrize(
    "model",
    [
        "events_outboxmessage",
        "events_deliveryattempt",
        "reconciliation_auditstep",
        "reconciliation_reconciliationrequest",
        "pepbridge_staffaction",
    ],
)
def test_each_busy_list_has_few_columns(staff_client, model: str) -> None:
    client = staff_client("Admins")
    staff_action_record(
        user=client.get("/").wsgi_request.user, action="send_now", objects=outbox_rows(1)
    )
    an_audit_step()
    page = client.get(reverse(f"admin:{model}_changelist")).content.decode()
    assert columns(page) <= MAX_COLUMNS


def an_audit_step() -> AuditStep:
    request = ReconciliationRequest.objects.create(
        source="reconciliation_api", outcome="accepted", cause=LONG, request_id="r-1"
    )
    open_items(request, [("p-0", "email")], cause=LONG)
    return AuditStep.objects.order_by("id").first()


def shown_and_title(page: str) -> tuple[str, str]:
    match = re.search(r'<span title="([^"]*)">([^<]*)</span>', page)
    assert match, "no truncated cell"
    return html.unescape(match.group(2)), html.unescape(match.group(1))


def test_a_long_attempt_error_is_cut_in_the_list_and_whole_on_its_page(support) -> None:
    outbox_rows(1)
    attempt = DeliveryAttempt.objects.get()
    DeliveryAttempt.objects.filter(pk=attempt.pk).update(error_excerpt=LONG)
    page = support.get(reverse("admin:events_deliveryattempt_changelist")).content.decode()
    shown, title = shown_and_title(page)
    assert len(shown) <= 60 and title == f"http_400 {LONG}"
    detail = reverse("admin:events_deliveryattempt_change", args=[attempt.pk])
    assert html.escape(LONG.strip()) in support.get(detail).content.decode()


def test_a_long_audit_cause_is_cut_in_the_list_and_whole_on_its_page(staff_client) -> None:
    client = staff_client("Compliance")
    step = an_audit_step()
    page = client.get(reverse("admin:reconciliation_auditstep_changelist")).content.decode()
    shown, title = shown_and_title(page)
    assert len(shown) <= 50 and title == step.cause and len(step.cause) > 50
    detail = reverse("admin:reconciliation_auditstep_change", args=[step.pk])
    assert html.escape(step.cause.strip()) in client.get(detail).content.decode()
