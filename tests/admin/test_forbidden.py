"""A 403 keeps the admin's navigation and names the missing permission (issue 13)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from pepbridge.backoffice.forbidden import permission_denied
from tests.admin.conftest import outbox_rows

pytestmark = pytest.mark.django_db


def test_a_staff_member_is_told_which_permission_is_missing_and_who_holds_it(staff_client):
    page = staff_client("Support").get(reverse("admin:api_apikey_changelist"))
    assert page.status_code == 403
    body = page.content.decode()
    assert "Can view API key" in body and "api.view_apikey" in body
    assert "The group Admins holds it." in body
    assert 'id="user-tools"' in body and reverse("admin:index") in body  # the admin's header


def test_an_own_page_names_its_own_permission(staff_client) -> None:
    (row,) = outbox_rows(1)
    url = reverse("admin:events_outboxmessage_act", args=[row.pk, "replay"])
    body = staff_client("Compliance").post(url).content.decode()
    assert "pepbridge.replay_outboxmessage" in body and "Support" in body


def test_the_users_list_names_its_view_permission(staff_client) -> None:
    body = staff_client("Support").get(reverse("admin:auth_user_changelist")).content.decode()
    assert "auth.view_user" in body and "The group Admins holds it." in body


def test_the_api_keeps_its_json_error_and_non_staff_get_no_admin_page(rf, django_user_model):
    api = rf.get("/api/bonuses/v1/x")
    api.user = AnonymousUser()
    answer = permission_denied(api, PermissionDenied())
    assert (answer.status_code, answer["Content-Type"]) == (403, "application/json")
    page = rf.get("/somewhere/")
    page.user = django_user_model.objects.create_user("player")
    answer = permission_denied(page, PermissionDenied())
    assert answer.status_code == 403 and b"user-tools" not in answer.content
