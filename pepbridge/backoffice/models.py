"""Back-office permissions that belong to no single model (docs/back-office.md).

They live on an unmanaged model of the `pepbridge` app so that the apps whose data they guard
(events, players) need no change to their models or migrations.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone

# Codenames, checked as "pepbridge.<codename>".
REPLAY_DELIVERIES = "replay_outboxmessage"
RESYNC_PLAYER = "resync_player"
VIEW_PERSONAL_DATA = "view_personal_data"


class BackOfficePermission(models.Model):
    """Holder of the back office's own permissions; it has no table and no rows."""

    class Meta:
        managed = False
        default_permissions = ()
        verbose_name = "back-office permission"
        permissions = [
            (REPLAY_DELIVERIES, "Can replay failed deliveries to PEP"),
            (RESYNC_PLAYER, "Can re-sync a player to PEP"),
            (VIEW_PERSONAL_DATA, "Can see players' personal data"),
        ]

    def __str__(self) -> str:
        return "back-office permission"


class StaffAction(models.Model):
    """One thing a staff member did in the back office: who, when, what, to which rows and why.

    Written only by `pepbridge.backoffice.services.staff_action_record`, which also leaves an
    admin LogEntry on each affected row (its History page). Append-only: the admin denies add,
    change and delete to everyone.
    """

    class Kind(models.TextChoices):
        REPLAY = "replay", "Replay failed messages"
        SEND_NOW = "send_now", "Send pending messages now"
        CANCEL_MESSAGE = "cancel_message", "Cancel messages to PEP"
        CANCEL_PLAYER_BONUS = "cancel_player_bonus", "Cancel player bonuses"
        FORFEIT_PLAYER_BONUS = "forfeit_player_bonus", "Forfeit player bonuses"
        PLAYER_RESYNC = "player_resync", "Re-sync players to PEP"
        RECONCILIATION_RESYNC = "reconciliation_resync", "Re-send reconciliation items"
        BONUS_RETIRE = "bonus_retire", "Retire bonuses"
        BONUS_PUSH = "bonus_push", "Push bonuses to PEP again"
        CREDENTIAL_CREATE = "credential_create", "Create a credential"
        CLIENT_DISABLE = "client_disable", "Disable OAuth clients"
        CLIENT_ENABLE = "client_enable", "Re-enable OAuth clients"
        CLIENT_REVOKE_TOKENS = "client_revoke_tokens", "Revoke OAuth clients' tokens"
        API_KEY_REVOKE = "api_key_revoke", "Revoke API keys"
        FULFIL_NOW = "fulfil_now", "Fulfil reward-shop purchases now"
        WEBHOOK_RETRY = "webhook_retry", "Process PEP webhook events again"
        SUBSCRIPTION_CREATE = "subscription_create", "Create a webhook subscription"
        SUBSCRIPTION_ROTATE = "subscription_rotate", "Rotate a webhook subscription's secret"
        SUBSCRIPTION_ENABLE = "subscription_enable", "Enable webhook subscriptions"
        SUBSCRIPTION_DISABLE = "subscription_disable", "Disable webhook subscriptions"
        # Saves and deletions through the admin's own forms and its "delete selected" action
        # (bonuses, users, groups...), mirrored from the admin's LogEntry.
        ADMIN_ADD = "admin_add", "Add (admin form)"
        ADMIN_CHANGE = "admin_change", "Change (admin form)"
        ADMIN_DELETE = "admin_delete", "Delete (admin)"

    at = models.DateTimeField(default=timezone.now)
    # SET_NULL plus the name kept apart: removing a staff account must not erase what it did.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(max_length=150)
    action = models.CharField(max_length=32, choices=Kind.choices)
    content_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Primary keys (as text) of the rows the action touched or was asked to touch.
    object_ids = models.JSONField(default=list, blank=True)
    count = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=300, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        verbose_name = "staff action"
        default_permissions = ("view",)
        # `view` shows a staff member their own actions; this one, everyone's (Compliance, Admins).
        permissions = [("view_all_staffaction", "Can view every staff member's actions")]
        indexes = [
            # The list, newest first, and its date filter.
            models.Index(fields=["-at"], name="staffaction_at_idx"),
            # The list's "by user" and "by action" filters, by date.
            models.Index(fields=["username", "at"], name="staffaction_user_at_idx"),
            models.Index(fields=["action", "at"], name="staffaction_action_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.username} at {self.at:%Y-%m-%d %H:%M:%S}"


def has_backoffice_perm(user: object, codename: str) -> bool:
    """Whether `user` holds one of the permissions above (superusers hold them all)."""
    has_perm = getattr(user, "has_perm", None)
    return bool(has_perm and has_perm(f"pepbridge.{codename}"))
