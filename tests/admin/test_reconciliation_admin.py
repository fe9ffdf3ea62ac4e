"""The reconciliation admin under the back office's groups: read-only trail, CSV export."""

from __future__ import annotations

import pytest
from django.urls import reverse

from reconciliation.models import AuditStep, ReconciliationRequest
from reconciliation.services import open_items

pytestmark = pytest.mark.django_db
ITEMS = reverse("admin:reconciliation_reconciliationitem_changelist")


def an_item():
    request = ReconciliationRequest.objects.create(
        source="reconciliation_api", outcome="accepted", cause="pep:test", request_id="r-1"
    )
    (item,) = open_items(request, [("p-0", "email")], cause="pep:test")
    return item


def test_compliance_browses_the_trail_and_exports_it(staff_client) -> None:
    client = staff_client("Compliance")
    an_item()
    assert client.get(ITEMS, {"q": "p-0"}).status_code == 200
    assert client.get(reverse("admin:reconciliation_auditstep_changelist")).status_code == 200
    export = client.get(reverse("admin:reconciliation_auditstep_export"))
    assert export.status_code == 200
    assert b"".join(export.streaming_content).count(b"\n") == 1 + AuditStep.objects.count()


def test_support_cannot_export_the_trail(support) -> None:
    assert support.get(reverse("admin:reconciliation_auditstep_export")).status_code == 403


def test_nobody_changes_the_trail(staff_client) -> None:
    client = staff_client("Admins")
    item = an_item()
    step = AuditStep.objects.get(item=item)
    assert client.get(reverse("admin:reconciliation_auditstep_add")).status_code == 403
    delete = reverse("admin:reconciliation_auditstep_delete", args=[step.pk])
    assert client.get(delete).status_code == 403
