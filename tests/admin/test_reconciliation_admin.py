"""The reconciliation admin under the back office's groups: read-only trail, CSV export."""

from __future__ import annotations

import pytest
from django.contrib.admin import ShowFacets, site
from django.urls import reverse

from pepbridge.backoffice.paginator import EstimatedCountPaginator
from reconciliation.models import AuditStep, ReconciliationItem, ReconciliationRequest, RepairState
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


@pytest.mark.parametrize("model", [ReconciliationRequest, ReconciliationItem, AuditStep])
def test_the_trail_lists_are_built_for_big_tables(model) -> None:
    model_admin = site._registry[model]
    assert model_admin.paginator is EstimatedCountPaginator
    assert model_admin.show_full_result_count is False
    assert model_admin.show_facets is ShowFacets.NEVER
    assert model_admin.date_hierarchy is None  # its year links are a DISTINCT over every row


def test_items_are_filtered_by_status_field_and_reason(staff_client) -> None:
    client = staff_client("Compliance")
    request = ReconciliationRequest.objects.create(
        source="reconciliation_api", outcome="accepted", cause="pep:test", request_id="r-2"
    )
    open_items(request, [("p-1", "email"), ("p-2", "email"), ("p-3", "country")], cause="x")
    RepairState.objects.filter(player_id="p-1").update(status="failed", reason="player_erased")
    RepairState.objects.filter(player_id="p-2").update(status="waiting_for_operator")

    def listed(**query: str) -> set[str]:
        response = client.get(ITEMS, query)
        assert response.status_code == 200
        return {item.player_id for item in response.context["cl"].result_list}

    assert listed(state__status__exact="failed") == {"p-1"}
    assert listed(state__reason__exact="player_erased") == {"p-1"}
    assert listed(field="email") == {"p-1", "p-2"}
    assert listed(field="country", state__status__exact="new") == {"p-3"}
    page = client.get(ITEMS).content.decode()
    assert "The player was erased" in page and "Waiting for the operator" in page


def test_every_offered_filter_has_an_index() -> None:
    def leading(model) -> set[tuple[str, ...]]:
        return {tuple(index.fields[:2]) for index in model._meta.indexes}

    assert ("kind", "at") in leading(AuditStep)
    assert ("at", "id") in leading(AuditStep)
    assert ("field", "id") in leading(ReconciliationItem)
    assert {("status", "item"), ("reason", "item")} <= leading(RepairState)


def test_nobody_changes_an_item_or_a_request_either(staff_client) -> None:
    client = staff_client("Admins")
    item = an_item()
    for name, pk in (("reconciliationitem", item.pk), ("reconciliationrequest", item.request_id)):
        assert client.get(reverse(f"admin:reconciliation_{name}_add")).status_code == 403
        delete = reverse(f"admin:reconciliation_{name}_delete", args=[pk])
        assert client.get(delete).status_code == 403
