"""Every registered model's list and one change page open as a superuser, and every
"view on site" link (`/admin/r/<ct>/<id>/`) on them leads somewhere (issue 13: it was a 500)."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from unittest import mock

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_application_model
from rest_framework.test import APIClient

from events import services as outbox
from events.models import EndpointState, OutboxMessage
from pepbridge.api.models import Scope
from pepbridge.api.services import api_key_create, oauth_client_create
from pepbridge.backoffice.services import staff_action_record
from players.models import MigrationRun
from tests.admin.conftest import (
    make_assignments,
    make_player_bonuses,
    make_rejections,
    outbox_rows,
)
from tests.reconciliation.conftest import RECON_URL, make_player, recon_body

pytestmark = pytest.mark.django_db

AccessToken = get_access_token_model()
Application = get_application_model()
SHORTCUT = re.compile(r'href="(/admin/r/[^"]+)"')
# Models with no row in this test (django-q's queue and task results stay empty here).
MAY_BE_EMPTY = {"django_q.success", "django_q.failure", "django_q.ormq"}


@pytest.fixture
def superuser_client() -> Client:
    user = get_user_model().objects.create_superuser("root", password="pw")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def one_of_everything(superuser_client: Client) -> None:
    pep_client = APIClient()
    pep_client.credentials(HTTP_X_API_KEY=api_key_create(name="PEP", scope=Scope.PEP).api_key)
    outbox_rows(2)
    outbox.replay_failed(actor="root", message_ids=None)
    EndpointState.objects.create(message_type="game_round")
    make_player_bonuses(1)
    make_assignments(1)
    make_rejections(1)
    client = oauth_client_create(name="PEP production")
    AccessToken.objects.create(
        application=Application.objects.get(client_id=client.client_id),
        token="t" * 40,
        expires=timezone.now() + timedelta(hours=1),
        scope="pep",
    )
    api_key_create(name="operator")
    MigrationRun.objects.create()
    root = get_user_model().objects.get(username="root")
    staff_action_record(user=root, action="send_now", objects=list(OutboxMessage.objects.all()))
    make_player("p-9")
    with mock.patch("reconciliation.services.queue_task"):
        pep_client.post(RECON_URL, recon_body("r-1", **{"p-9": ["email"]}), format="json")


def pages(client: Client, model: type) -> list[str]:
    """The model's list and, when it has a row, the change page of its first row."""
    opts = model._meta
    urls = [reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")]
    first = model._default_manager.order_by("pk").first()
    if first is None:
        assert opts.label_lower in MAY_BE_EMPTY, f"no {opts.label} row to open"
    else:
        urls.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[first.pk]))
    return urls


@pytest.mark.parametrize("model", list(admin.site._registry), ids=lambda m: m._meta.label_lower)
def test_every_page_opens_and_its_view_on_site_links_resolve(
    superuser_client: Client, one_of_everything: None, model: type
) -> None:
    for url in pages(superuser_client, model):
        answer = superuser_client.get(url)
        assert answer.status_code == 200, url
        for link in SHORTCUT.findall(answer.content.decode()):
            followed = superuser_client.get(link, follow=True)
            assert followed.status_code == 200, f"{link} on {url}"


def test_view_site_goes_to_the_dashboard(superuser_client: Client) -> None:
    page = superuser_client.get(reverse("admin:index")).content.decode()
    assert f'href="{reverse("backoffice-dashboard")}">View site' in page


HREF = re.compile(r'href="((?:/admin/|\?)[^"#]*)"')


def test_no_link_on_any_list_or_change_page_is_broken(
    superuser_client: Client, one_of_everything: None
) -> None:
    """Every admin link (filters, sorting, related rows, exports, buttons' pages) answers."""
    followed: dict[str, int] = {}
    for model in admin.site._registry:
        for url in pages(superuser_client, model):
            page = superuser_client.get(url).content.decode()
            for found in set(HREF.findall(page)):
                # "?status__exact=failed" on a list is that list, filtered.
                link = html.unescape(url.split("?")[0] + found if found[0] == "?" else found)
                if link not in followed and "/logout/" not in link:
                    followed[link] = superuser_client.get(link).status_code
    broken = {link: code for link, code in followed.items() if code not in (200, 302)}
    assert broken == {}
    assert len(followed) > 300  # the walk reached the filters, sorting and related pages
