"""Staff admin for the operator's webhook subscriptions (docs/webhooks.md, "Subscribing").

The signing secret is shown once, on the page that answers the creation or a rotation, and
nowhere else (as for credentials, pepbridge.api.admin): no list column, no form field, no
message, no log entry text. Creation, rotation, enabling and disabling call
events.services.subscriptions and are recorded as staff actions in the same transaction; edits
of name, URL and event types go through the admin form (mirrored to the staff actions log).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import ADDITION
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from events.models import WebhookSubscription
from events.services import subscriptions
from pepbridge.backoffice.admin_tools import reason_or_confirmation
from pepbridge.backoffice.models import StaffAction
from pepbridge.backoffice.services import staff_action_record

Kind = StaffAction.Kind
EVENT_TYPES_HELP = (
    "Comma or line separated: PEP's events as pep.<eventName> (pep.level_up), the bridge's as "
    "bridge.bonus_granted, bridge.message_dead_lettered or bridge.reconciliation_item_opened; "
    "pep.* or bridge.* for a family. "
    "Empty: every event."
)


class SubscriptionForm(forms.ModelForm):
    """Name, URL, event types and the switch; never the secret."""

    url = forms.URLField(
        label="URL", max_length=500, assume_scheme="https",
        help_text="HTTPS (plain http only to a loopback host). It receives signed POSTs.",
    )  # fmt: skip
    event_types_text = forms.CharField(
        label="Event types", required=False, widget=forms.Textarea(attrs={"rows": 3}),
        max_length=5000, help_text=EVENT_TYPES_HELP,
    )  # fmt: skip

    rate_limit_seconds = forms.IntegerField(
        label="per seconds", required=False, min_value=1, max_value=86_400, initial=1,
        help_text="The window of the rate limit (1 when empty).",
    )  # fmt: skip

    class Meta:
        model = WebhookSubscription
        fields = ("name", "url", "enabled", "rate_limit_count", "rate_limit_seconds")
        labels = {"rate_limit_count": "Rate limit: requests"}
        help_texts = {
            "enabled": "Off: no new events are queued, and queued ones are dead-lettered.",
            "rate_limit_count": "At most this many requests to the URL per the seconds below, "
            "for all workers together. Empty: no limit (the receiver may still answer 429).",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["event_types_text"] = ", ".join(self.instance.event_types)

    def clean_url(self) -> str:
        return subscriptions.url_validate(self.cleaned_data["url"])

    def clean_rate_limit_seconds(self) -> int:
        seconds: int | None = self.cleaned_data["rate_limit_seconds"]
        return seconds or 1

    def clean_event_types_text(self) -> list[str]:
        return subscriptions.event_types_parse(self.cleaned_data["event_types_text"])

    def save(self, commit: bool = True) -> WebhookSubscription:
        self.instance.event_types = self.cleaned_data["event_types_text"]
        saved: WebhookSubscription = super().save(commit=commit)
        return saved


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    form = SubscriptionForm
    list_display = ("name", "url", "types", "enabled", "secret_rotated_at", "deliveries")
    list_filter = ("enabled",)
    search_fields = ("name", "url")
    fields = ("name", "url", "event_types_text", "enabled", "rate_limit_count",
              "rate_limit_seconds", "secret_rotated_at", "created_at", "updated_at",
              "deliveries")  # fmt: skip
    readonly_fields = ("secret_rotated_at", "created_at", "updated_at", "deliveries")
    actions = ("rotate_secret", "enable", "disable")
    add_template = "admin/events/subscription_add.html"
    issued_template = "admin/events/subscription_secret.html"

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # disable instead: its deliveries point at it

    @admin.display(description="event types")
    def types(self, obj: WebhookSubscription) -> str:
        return ", ".join(obj.event_types) or "(all)"

    @admin.display(description="deliveries")
    def deliveries(self, obj: WebhookSubscription) -> str:
        url = reverse("admin:events_outboxmessage_changelist")
        return format_html('<a href="{}?subscription={}">deliveries</a>', url, obj.pk)

    # --- create: the secret is shown on the answer, once -------------------------------------

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = SubscriptionForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            with transaction.atomic():
                issued = subscriptions.subscription_create(
                    name=data["name"], url=data["url"], event_types=data["event_types_text"],
                    enabled=data["enabled"], rate_limit=(data["rate_limit_count"],
                                                         data["rate_limit_seconds"]),
                )  # fmt: skip
                staff_action_record(
                    user=request.user, action=Kind.SUBSCRIPTION_CREATE,
                    objects=[issued.subscription], outcome=f"url {issued.subscription.url}",
                    action_flag=ADDITION,
                )  # fmt: skip
            return self._issued(request, issued, "Copy the signing secret now")
        return self._page(request, self.add_template, f"Add {self.opts.verbose_name}", form=form)

    def _issued(
        self, request: HttpRequest, issued: subscriptions.Issued, title: str
    ) -> TemplateResponse:
        change = reverse("admin:events_webhooksubscription_change", args=[issued.subscription.pk])
        return self._page(request, self.issued_template, title, issued=issued, issued_url=change)

    def _page(
        self, request: HttpRequest, template: str, title: str, **context: Any
    ) -> TemplateResponse:
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "title": title,
                "opts": self.opts,
                "app_label": self.opts.app_label,
                "has_view_permission": self.has_view_permission(request),
                **context,
            },
        )

    # --- actions ---------------------------------------------------------------------------

    @admin.action(
        description="Rotate the secret of the selected subscription", permissions=["change"]
    )
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "Rotate one subscription at a time.", messages.ERROR)
            return None
        reason = reason_or_confirmation(self, request, queryset, title="Rotate the secret")
        if not isinstance(reason, str):
            return reason
        target = queryset.get()
        try:
            with transaction.atomic():
                issued = subscriptions.subscription_rotate_secret(subscription_id=target.pk)
                staff_action_record(
                    user=request.user, action=Kind.SUBSCRIPTION_ROTATE, objects=[target],
                    outcome="secret replaced", reason=reason,
                )  # fmt: skip
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return None
        return self._issued(request, issued, "Copy the new signing secret now")

    @admin.action(description="Enable the selected subscriptions", permissions=["change"])
    def enable(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._switch(request, queryset, enabled=True)

    @admin.action(description="Disable the selected subscriptions", permissions=["change"])
    def disable(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._switch(request, queryset, enabled=False)

    def _switch(self, request: HttpRequest, queryset: QuerySet[Any], *, enabled: bool) -> None:
        targets = list(queryset)
        kind = Kind.SUBSCRIPTION_ENABLE if enabled else Kind.SUBSCRIPTION_DISABLE
        with transaction.atomic():
            count = subscriptions.subscription_set_enabled(
                subscription_ids=[target.pk for target in targets], enabled=enabled
            )
            staff_action_record(
                user=request.user, action=kind, objects=targets, outcome=f"{count} changed"
            )
        word = "enabled" if enabled else "disabled"
        self.message_user(request, f"{count} subscription(s) {word}.", messages.SUCCESS)
