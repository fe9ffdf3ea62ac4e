"""Staff admin for inbound credentials. No page shows a token or a secret's hash; a new secret
is shown once, on the page that answers its creation, and nowhere else.

The toolkit's own admin lists raw access tokens and edits client secrets; it is replaced here.
Admins (the `add_*` and `change_*` permissions of these models: the Admins group and
superusers) create credentials through `oauth_client_create` / `api_key_create`, revoke API keys,
and disable or re-enable OAuth clients. Nothing is edited in a form.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import ADDITION
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)

from pepbridge.api import services
from pepbridge.api.models import DEFAULT_SENDER, ApiKey, Scope, sender_problem
from pepbridge.backoffice.admin_tools import reason_or_confirmation
from pepbridge.backoffice.models import StaffAction
from pepbridge.backoffice.services import staff_action_record

Application = get_application_model()
Kind = StaffAction.Kind
AccessToken = get_access_token_model()

for _model in (
    Application,
    AccessToken,
    get_grant_model(),
    get_id_token_model(),
    get_refresh_token_model(),
):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


class CredentialForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="Who holds it, e.g. 'PEP production' or 'operator platform'."
    )
    scope = forms.ChoiceField(
        choices=Scope.choices,
        initial=Scope.PEP,
        help_text="What it opens. One scope per credential: PEP's credential never writes "
        "operator data.",
    )
    sender = forms.CharField(
        max_length=64,
        required=False,  # left empty: the default
        initial=DEFAULT_SENDER,
        help_text="The PEP instance it belongs to. Keep the default: all of PEP's credentials "
        "share one requestId space. Only a second PEP (e.g. staging) gets its own sender.",
    )

    def clean_sender(self) -> str:
        sender = self.cleaned_data["sender"] or DEFAULT_SENDER
        if problem := sender_problem(sender):
            raise forms.ValidationError(problem.capitalize() + ".")
        return sender


@dataclass(frozen=True)
class Issued:
    """What the one-time page shows: the new row and its secret (in this response only)."""

    obj: Model
    identifier_label: str
    identifier: str
    secret: str
    scope: str
    sender: str


class ReadOnlyAdmin(admin.ModelAdmin):
    """Look and delete; nothing is edited in a form."""

    # The toolkit's Application.get_absolute_url reverses its own management views, which are
    # not mounted here: "View on site" answered 500 (issue 13).
    view_on_site = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        """Revoke / disable: for whoever holds the model's change permission (Admins)."""
        opts = self.opts
        return bool(request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}"))


class IssuingAdmin(ReadOnlyAdmin):
    """An add page that calls a service and answers with the secret, shown this once.

    The secret goes into the rendered page only: no redirect, no message (messages live in the
    session or a cookie until read), no log entry text. Admin views are `never_cache`, so the
    answer is not stored by the browser or a proxy either.
    """

    add_form_template = "admin/api/credential_add.html"
    issued_template = "admin/api/credential_issued.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        # The model's own add permission: the Admins group and superusers hold it.
        return admin.ModelAdmin.has_add_permission(self, request)

    def issue(self, *, name: str, scope: str, sender: str) -> Issued:
        raise NotImplementedError

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = CredentialForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            with transaction.atomic():
                issued = self.issue(**form.cleaned_data)
                # The record names the credential, never its secret.
                staff_action_record(
                    user=request.user,
                    action=Kind.CREDENTIAL_CREATE,
                    objects=[issued.obj],
                    outcome=f"scope {issued.scope}, sender {issued.sender}",
                    action_flag=ADDITION,
                )
            return self._render(
                request,
                self.issued_template,
                "Copy the secret now",
                issued=issued,
                issued_url=change_url(issued.obj),
            )
        title = f"Add {self.opts.verbose_name}"
        return self._render(request, self.add_form_template, title, form=form)

    def _render(
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


def change_url(obj: Model) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


@admin.register(Application)
class ClientAdmin(IssuingAdmin):
    list_display = ("name", "client_id", "scope", "sender", "state", "created")
    search_fields = ("name", "client_id")
    fields = ("name", "client_id", "scope", "sender", "state", "created", "updated")
    readonly_fields = fields
    actions = ("disable", "enable", "revoke_tokens")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("pepbridge_scope")

    def issue(self, *, name: str, scope: str, sender: str) -> Issued:
        client = services.oauth_client_create(name=name, scope=scope, sender=sender)
        obj = Application.objects.get(client_id=client.client_id)
        return Issued(
            obj, "Client id", client.client_id, client.client_secret, client.scope, sender
        )

    @admin.display(description="scope")
    def scope(self, obj: Any) -> str:
        scope = getattr(obj, "pepbridge_scope", None)
        return scope.scope if scope else "(none)"

    @admin.display(description="sender")
    def sender(self, obj: Any) -> str:
        """The PEP instance (docs/credentials.md): its credentials share one requestId space."""
        scope = getattr(obj, "pepbridge_scope", None)
        return scope.sender if scope else "(none)"

    @admin.display(description="state")
    def state(self, obj: Any) -> str:
        return "Disabled" if services.oauth_client_is_disabled(obj) else "Active"

    @admin.action(
        description="Disable the selected clients (no new tokens, current ones revoked)",
        permissions=["revoke"],
    )
    def disable(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        reason = reason_or_confirmation(self, request, queryset, title="Disable OAuth clients")
        if not isinstance(reason, str):
            return reason
        self._each(
            request,
            queryset,
            services.oauth_client_disable,
            "disabled",
            Kind.CLIENT_DISABLE,
            reason,
        )
        return None

    @admin.action(description="Re-enable the selected disabled clients", permissions=["revoke"])
    def enable(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(
            request, queryset, services.oauth_client_enable, "re-enabled", Kind.CLIENT_ENABLE
        )

    @admin.action(
        description="Revoke the selected clients' access tokens (they may ask for new ones)",
        permissions=["revoke"],
    )
    @transaction.atomic
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet) -> None:
        clients = list(queryset)
        count = sum(services.oauth_client_revoke_tokens(client_id=c.client_id) for c in clients)
        staff_action_record(
            user=request.user,
            action=Kind.CLIENT_REVOKE_TOKENS,
            objects=clients,
            outcome=f"{count} token(s) revoked",
        )
        self.message_user(request, f"{count} access token(s) revoked.", messages.SUCCESS)

    def _each(
        self,
        request: HttpRequest,
        queryset: QuerySet,
        service: Callable[..., bool],
        done: str,
        kind: str,
        reason: str = "",
    ) -> None:
        with transaction.atomic():
            clients = list(queryset)
            count = sum(service(client_id=client.client_id) for client in clients)
            staff_action_record(
                user=request.user,
                action=kind,
                objects=clients,
                outcome=f"{count} {done}, {len(clients) - count} already were",
                reason=reason,
            )
        self.message_user(request, f"{count} client(s) {done}.", messages.SUCCESS)
        if count < len(clients):
            self.message_user(
                request, f"{len(clients) - count} client(s) already were.", messages.WARNING
            )


@admin.register(AccessToken)
class AccessTokenAdmin(ReadOnlyAdmin):
    """Tokens by client and expiry; deleting one revokes it. The token value is never shown."""

    list_display = ("id", "application", "scope", "expires", "created")
    list_filter = ("application",)
    list_select_related = ("application",)
    fields = ("application", "scope", "expires", "created")
    readonly_fields = fields
    show_full_result_count = False


@admin.register(ApiKey)
class ApiKeyAdmin(IssuingAdmin):
    list_display = ("name", "key_id", "scope", "sender", "created_at", "revoked_at")
    list_filter = ("scope", "sender", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "key_id")
    fields = ("name", "key_id", "scope", "sender", "created_at", "revoked_at")
    readonly_fields = fields
    actions = ("revoke",)

    def issue(self, *, name: str, scope: str, sender: str) -> Issued:
        key = services.api_key_create(name=name, scope=scope, sender=sender)
        obj = ApiKey.objects.get(key_id=key.key_id)
        return Issued(obj, "Key id", key.key_id, key.api_key, key.scope, sender)

    @admin.action(description="Revoke the selected API keys", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        reason = reason_or_confirmation(self, request, queryset, title="Revoke API keys")
        if not isinstance(reason, str):
            return reason
        with transaction.atomic():
            keys = list(queryset)
            count = sum(services.api_key_revoke(key_id=key.key_id) for key in keys)
            staff_action_record(
                user=request.user,
                action=Kind.API_KEY_REVOKE,
                objects=keys,
                outcome=f"{count} revoked",
                reason=reason,
            )
        self.message_user(request, f"{count} API key(s) revoked.", messages.SUCCESS)
        return None
