"""Staff admin for inbound credentials. No page shows a token, a secret or a secret's hash.

The toolkit's own admin lists raw access tokens and edits client secrets; it is replaced here.
Credentials are created with `create_pep_client` / `create_pep_api_key`, which show the secret
once; the admin can only look, revoke and delete.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)

from pepbridge.api import services
from pepbridge.api.models import ApiKey

Application = get_application_model()
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


class ReadOnlyAdmin(admin.ModelAdmin):
    """Look and delete only: credentials are made by management commands."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Application)
class ClientAdmin(ReadOnlyAdmin):
    list_display = ("name", "client_id", "scope", "created")
    search_fields = ("name", "client_id")
    fields = ("name", "client_id", "scope", "authorization_grant_type", "created", "updated")
    readonly_fields = fields
    actions = ("revoke_tokens",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("pepbridge_scope")

    @admin.display(description="scope")
    def scope(self, obj: Any) -> str:
        scope = getattr(obj, "pepbridge_scope", None)
        return scope.scope if scope else "(none)"

    @admin.action(description="Revoke the selected clients' access tokens")
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = sum(services.oauth_client_revoke_tokens(client_id=c.client_id) for c in queryset)
        self.message_user(request, f"{count} access token(s) revoked.", messages.SUCCESS)


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
class ApiKeyAdmin(ReadOnlyAdmin):
    list_display = ("name", "key_id", "scope", "created_at", "revoked_at")
    list_filter = ("scope", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "key_id")
    fields = ("name", "key_id", "scope", "created_at", "revoked_at")
    readonly_fields = fields
    actions = ("revoke",)

    @admin.action(description="Revoke the selected API keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = sum(services.api_key_revoke(key_id=key.key_id) for key in queryset)
        self.message_user(request, f"{count} API key(s) revoked.", messages.SUCCESS)
