"""The trail is append-only at every level: the ORM, the admin, and SQL on PostgreSQL."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory

from reconciliation.models import (
    AppendOnlyError,
    AuditStep,
    ReconciliationItem,
    ReconciliationRequest,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def trail() -> tuple[ReconciliationRequest, ReconciliationItem, AuditStep]:
    request = ReconciliationRequest.objects.create(
        source="reconciliation_api", request_id="r-1", outcome="accepted", cause="pep:test"
    )
    item = ReconciliationItem.objects.create(request=request, player_id="p-1", field="email")
    step = AuditStep.objects.create(
        request=request, item=item, kind="received", cause="pep:test", player_id="p-1"
    )
    return request, item, step


def test_saving_an_existing_record_raises(trail) -> None:
    for record in trail:
        with pytest.raises(AppendOnlyError):
            record.save()


def test_deleting_a_record_raises(trail) -> None:
    for record in trail:
        with pytest.raises(AppendOnlyError):
            record.delete()


@pytest.mark.parametrize("model", [ReconciliationRequest, ReconciliationItem, AuditStep])
def test_queryset_update_and_delete_raise(trail, model) -> None:
    with pytest.raises(AppendOnlyError):
        model.objects.all().update(pk=1)
    with pytest.raises(AppendOnlyError):
        model.objects.filter(pk__gt=0).delete()
    with pytest.raises(AppendOnlyError):
        model.objects.bulk_update(list(model.objects.all()), ["pk"])
    assert model.objects.count() == 1


def test_a_record_is_unchanged_after_a_refused_save(trail) -> None:
    step = trail[2]
    step.detail = "rewritten"
    with pytest.raises(AppendOnlyError):
        step.save()
    assert AuditStep.objects.get(pk=step.pk).detail == ""


@pytest.mark.parametrize("model", [ReconciliationRequest, ReconciliationItem, AuditStep])
def test_the_admin_grants_no_add_change_or_delete_even_to_a_superuser(trail, model) -> None:
    superuser = User.objects.create_superuser("root", password="x")
    request = RequestFactory().get("/")
    request.user = superuser
    model_admin = admin.site._registry[model]
    assert model_admin.has_view_permission(request)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, trail[0])
    assert not model_admin.has_delete_permission(request, trail[0])
    assert model_admin.get_actions(request) == {}  # no "delete selected"


def test_the_admin_changelist_links_the_export(client, trail) -> None:
    client.force_login(User.objects.create_superuser("root", password="x"))
    page = client.get("/admin/reconciliation/auditstep/")
    assert page.status_code == 200
    assert b"/admin/reconciliation/auditstep/export/" in page.content
    assert b"/admin/reconciliation/auditstep/add/" not in page.content


@pytest.mark.postgres
@pytest.mark.parametrize(
    "table",
    [
        "reconciliation_reconciliationrequest",
        "reconciliation_reconciliationitem",
        "reconciliation_auditstep",
    ],
)
def test_postgresql_refuses_update_and_delete_in_sql(trail, table) -> None:
    for sql in (f"UPDATE {table} SET id = id", f"DELETE FROM {table}"):  # noqa: S608
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608
        assert cursor.fetchone() == (1,)
