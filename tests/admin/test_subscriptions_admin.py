"""The webhook subscriptions admin: create with the secret shown once, rotate, switch, audit."""

from __future__ import annotations

import base64

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from events import forwarding
from events.models import OutboxMessage, WebhookSubscription
from events.services.subscriptions import subscription_create
from pepbridge.backoffice.models import StaffAction
from pepbridge.pep.webhook_sender import signature

pytestmark = pytest.mark.django_db
LIST = reverse("admin:events_webhooksubscription_changelist")
ADD = reverse("admin:events_webhooksubscription_add")
DELIVERIES = reverse("admin:events_outboxmessage_changelist")
FORM = {
    "name": "CRM",
    "url": "https://crm.example.com/pep",
    "event_types_text": "",
    "enabled": "on",
}


def change_url(subscription: WebhookSubscription) -> str:
    return reverse("admin:events_webhooksubscription_change", args=[subscription.pk])


def pages_of(client, subscription: WebhookSubscription) -> str:
    return client.get(LIST).content.decode() + client.get(change_url(subscription)).content.decode()


def act(client, action: str, subscription: WebhookSubscription, **extra: str):
    data = {"action": action, ACTION_CHECKBOX_NAME: [str(subscription.pk)], **extra}
    return client.post(LIST, data)


def test_admins_create_a_subscription_and_see_its_secret_once(staff_client) -> None:
    client = staff_client("Admins")
    assert client.get(ADD).status_code == 200
    answer = client.post(ADD, {**FORM, "event_types_text": "pep.level_up, bridge.*"})
    assert answer.status_code == 200
    issued = answer.context["issued"]
    assert issued.secret in answer.content.decode()
    assert "no-store" in answer["Cache-Control"]
    assert not list(answer.context["messages"])  # not kept in the session or a cookie
    subscription = WebhookSubscription.objects.get()
    assert subscription.event_types == ["bridge.*", "pep.level_up"]
    assert issued.secret.startswith("whsec_")
    assert len(base64.b64decode(issued.secret.removeprefix("whsec_"))) >= 24
    assert issued.secret not in pages_of(client, subscription)
    action = StaffAction.objects.get(action=StaffAction.Kind.SUBSCRIPTION_CREATE)
    assert action.object_ids == [str(subscription.pk)]
    assert issued.secret not in action.outcome
    # The secret shown is the one deliveries are signed with.
    body, stamp = b'{"type":"pep.level_up"}', int(timezone.now().timestamp())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(stamp),
        "webhook-signature": signature(subscription.secret, "msg_1", stamp, body),
    }
    assert Webhook(issued.secret).verify(body, headers) == {"type": "pep.level_up"}


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://crm.example.com/pep", "must use https://"),
        ("https://user:pw@crm.example.com/pep", "user name or password"),
        ("ftp://crm.example.com/pep", "http(s)://"),
        ("https://crm.example.com/" + "a" * 600, "Ensure this value has at most"),
    ],
)
def test_an_unsafe_url_is_refused_and_nothing_is_created(
    staff_client, settings, url: str, problem: str
) -> None:
    settings.DEBUG = False
    answer = staff_client("Admins").post(ADD, {**FORM, "url": url})
    assert answer.status_code == 200
    assert problem in answer.content.decode()
    assert not WebhookSubscription.objects.exists()


def test_plain_http_is_allowed_to_a_loopback_receiver(staff_client, settings) -> None:
    settings.DEBUG = False
    answer = staff_client("Admins").post(ADD, {**FORM, "url": "http://127.0.0.1:9000/hook"})
    assert answer.status_code == 200 and "issued" in answer.context


def test_a_hostile_event_type_list_is_refused(staff_client) -> None:
    answer = staff_client("Admins").post(ADD, {**FORM, "event_types_text": "level_up<script>"})
    assert answer.status_code == 200
    assert "Not an event type" in answer.content.decode()
    assert not WebhookSubscription.objects.exists()


def test_rotating_asks_for_a_reason_then_shows_the_new_secret_once(staff_client) -> None:
    client = staff_client("Admins")
    issued = subscription_create(name="CRM", url=FORM["url"], event_types=[])
    subscription = issued.subscription
    confirm = act(client, "rotate_secret", subscription)
    assert confirm.status_code == 200 and "reason" in confirm.content.decode()
    subscription.refresh_from_db()
    assert subscription.secret == issued.secret  # nothing changed before the confirmation
    answer = act(client, "rotate_secret", subscription, confirm="yes", reason="leaked in a ticket")
    new = answer.context["issued"].secret
    assert new != issued.secret and new in answer.content.decode()
    subscription.refresh_from_db()
    assert subscription.secret == new
    assert new not in pages_of(client, subscription)
    assert issued.secret not in pages_of(client, subscription)  # the old one, still signing
    action = StaffAction.objects.get(action=StaffAction.Kind.SUBSCRIPTION_ROTATE)
    assert action.reason == "leaked in a ticket"


def test_enabling_and_disabling_is_recorded(staff_client) -> None:
    client = staff_client("Admins")
    subscription = subscription_create(name="CRM", url=FORM["url"], event_types=[]).subscription
    act(client, "disable", subscription)
    subscription.refresh_from_db()
    assert not subscription.enabled
    act(client, "enable", subscription)
    subscription.refresh_from_db()
    assert subscription.enabled
    kinds = list(StaffAction.objects.order_by("pk").values_list("action", flat=True))
    assert kinds == [StaffAction.Kind.SUBSCRIPTION_DISABLE, StaffAction.Kind.SUBSCRIPTION_ENABLE]


def test_editing_never_shows_or_changes_the_secret(staff_client) -> None:
    client = staff_client("Admins")
    issued = subscription_create(name="CRM", url=FORM["url"], event_types=[])
    page = client.get(change_url(issued.subscription)).content.decode()
    assert 'name="secret"' not in page and issued.secret not in page
    form = {**FORM, "url": "https://crm2.example.com/pep", "event_types_text": "pep.*"}
    answer = client.post(change_url(issued.subscription), form)
    assert answer.status_code == 302
    subscription = WebhookSubscription.objects.get()
    assert (subscription.url, subscription.event_types) == (form["url"], ["pep.*"])
    assert subscription.secret == issued.secret


def test_other_groups_cannot_create_or_rotate(staff_client) -> None:
    subscription = subscription_create(name="CRM", url=FORM["url"], event_types=[]).subscription
    assert staff_client("Support").get(LIST).status_code == 403
    compliance = staff_client("Compliance")
    assert compliance.get(LIST).status_code == 200
    assert compliance.get(ADD).status_code == 403
    act(compliance, "rotate_secret", subscription, confirm="yes", reason="x")
    assert WebhookSubscription.objects.get().secret == subscription.secret


def test_forwarded_rows_show_their_target_in_the_deliveries_admin(staff_client) -> None:
    client = staff_client("Admins")
    subscription = subscription_create(name="CRM", url=FORM["url"], event_types=[]).subscription
    event = forwarding.Event("pep.level_up", "k-1", {"n": 1}, timezone.now(), "p-1")
    with transaction.atomic():
        forwarding.forward([event])
    row = OutboxMessage.objects.get()
    link = reverse("admin:events_outboxmessage_change", args=[row.pk])
    page = client.get(DELIVERIES, {"subscription": str(subscription.pk)}).content.decode()
    assert "webhook: CRM" in page and link in page
    assert link not in client.get(DELIVERIES, {"subscription": "pep"}).content.decode()
    detail = client.get(link)
    assert "webhook: CRM" in detail.content.decode()


def test_a_rate_limit_is_set_with_the_subscription_and_zero_is_refused(staff_client) -> None:
    client = staff_client("Admins")
    refused = client.post(ADD, {**FORM, "rate_limit_count": "0", "rate_limit_seconds": "60"})
    assert refused.status_code == 200 and not WebhookSubscription.objects.exists()
    client.post(ADD, {**FORM, "rate_limit_count": "100", "rate_limit_seconds": "60"})
    subscription = WebhookSubscription.objects.get()
    assert (subscription.rate_limit_count, subscription.rate_limit_seconds) == (100, 60)
