"""The operator's players as the bridge knows them: only the data PEP's CRM and rules need."""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.utils import timezone

from players import validators


class Gender(models.TextChoices):
    MALE = "male", "Male"
    FEMALE = "female", "Female"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Unknown"


class AccountStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    BLOCKED = "blocked", "Blocked"
    CLOSED = "closed", "Closed"


class KycStatus(models.TextChoices):
    NONE = "none", "Not started"
    PENDING = "pending", "Pending"
    VERIFIED = "verified", "Verified"
    REJECTED = "rejected", "Rejected"


class RegistrationDevice(models.TextChoices):
    DESKTOP = "desktop", "Desktop"
    MOBILE = "mobile", "Mobile"
    TABLET = "tablet", "Tablet"
    APP = "app", "App"
    UNKNOWN = "unknown", "Unknown"


class ConsentChannel(models.TextChoices):
    EMAIL = "email", "E-mail"
    SMS = "sms", "SMS"
    PHONE = "phone", "Phone call"
    PUSH = "push", "Push notification"
    ON_SITE = "on_site", "On-site messages"


class Player(models.Model):
    """One operator player. `player_id` is the operator's id, the one PEP knows the player by.

    Personal fields are blank after erasure (`erased_at` set); the row itself stays so that the
    non-personal records regulation needs (bonus assignments, deliveries) keep their key.
    """

    player_id = models.CharField(max_length=64, unique=True)
    brand_id = models.CharField(max_length=64, blank=True)
    username = models.CharField(max_length=150, blank=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    email = models.EmailField(max_length=254, blank=True)
    phone = models.CharField(max_length=16, blank=True, validators=[validators.validate_phone])
    gender = models.CharField(max_length=8, choices=Gender.choices, blank=True)
    birth_date = models.DateField(
        null=True, blank=True, validators=[validators.validate_birth_date]
    )
    country = models.CharField(max_length=2, blank=True, validators=[validators.validate_country])
    city = models.CharField(max_length=100, blank=True)
    language = models.CharField(max_length=8, blank=True, validators=[validators.validate_language])
    currency = models.CharField(max_length=3, blank=True, validators=[validators.validate_currency])
    registration_date = models.DateTimeField(
        null=True, blank=True, validators=[validators.validate_not_future]
    )
    registration_device = models.CharField(
        max_length=8, choices=RegistrationDevice.choices, blank=True
    )

    account_status = models.CharField(
        max_length=8, choices=AccountStatus.choices, default=AccountStatus.ACTIVE
    )
    kyc_status = models.CharField(max_length=8, choices=KycStatus.choices, default=KycStatus.NONE)
    email_verified = models.BooleanField(default=False)
    phone_verified = models.BooleanField(default=False)

    # Responsible gambling. Self-exclusion with no end date is indefinite.
    self_excluded = models.BooleanField(default=False)
    self_excluded_until = models.DateTimeField(null=True, blank=True)
    cool_off_until = models.DateTimeField(null=True, blank=True)
    at_risk = models.BooleanField(default=False)

    tags = models.JSONField(default=list, blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    erased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # The back office searches players by exact username and e-mail.
        indexes = [
            models.Index(fields=["username"], name="player_username"),
            models.Index(fields=["email"], name="player_email"),
            # Admin filters, list ordered by -id: the rare values (blocked or closed accounts,
            # self-excluded, at-risk) are read in list order and counted without a table scan.
            models.Index(fields=["account_status", "id"], name="player_account_status_idx"),
            models.Index(fields=["self_excluded", "id"], name="player_self_excluded_idx"),
            models.Index(fields=["at_risk", "id"], name="player_at_risk_idx"),
            # The "erased" filter (IS NOT NULL).
            models.Index(fields=["erased_at"], name="player_erased_at_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(self_excluded=True) | models.Q(self_excluded_until__isnull=True),
                name="player_self_exclusion_end_needs_flag",
            ),
        ]

    def __str__(self) -> str:
        return self.player_id

    def is_self_excluded(self, at: datetime | None = None) -> bool:
        """Self-excluded now: flagged, and either indefinitely or until a moment still ahead."""
        if not self.self_excluded:
            return False
        return self.self_excluded_until is None or self.self_excluded_until > (at or timezone.now())

    def is_cooling_off(self, at: datetime | None = None) -> bool:
        return self.cool_off_until is not None and self.cool_off_until > (at or timezone.now())

    def bonus_block_reason(self) -> str | None:
        """Why this player may not receive a bonus right now, or None when they may.

        Responsible-gambling reasons come first: they are what an auditor asks about.
        An erased player is treated as a closed account.
        """
        now = timezone.now()
        if self.is_self_excluded(now):
            return "self_excluded"
        if self.is_cooling_off(now):
            return "cool_off"
        if self.account_status == AccountStatus.CLOSED or self.erased_at is not None:
            return "account_closed"
        if self.account_status == AccountStatus.BLOCKED:
            return "account_blocked"
        return None


class MarketingConsent(models.Model):
    """A player's consent on one marketing channel, with when it was last given or withdrawn."""

    player = models.ForeignKey(Player, on_delete=models.CASCADE, related_name="consents")
    channel = models.CharField(max_length=8, choices=ConsentChannel.choices)
    granted = models.BooleanField()
    changed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["player", "channel"], name="consent_one_per_channel"),
        ]

    def __str__(self) -> str:
        return f"{self.player_id}:{self.channel}={'yes' if self.granted else 'no'}"


class MigrationRun(models.Model):
    """One initial load of players into PEP through the bulk migration endpoint.

    The run remembers its filter so a resumed run selects the same players; its chunks remember
    which players (a primary-key range) each carried, so no chunk is sent twice.
    """

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"

    filters = models.JSONField(default=dict)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"migration run {self.pk} ({self.status})"


class MigrationChunk(models.Model):
    """One request to PEP's bulk migration endpoint, recorded before it is sent.

    `sending` that never became `accepted` means the bridge does not know whether PEP got it
    (the process died or the call timed out): it is not re-sent unless staff say so.
    """

    class Status(models.TextChoices):
        SENDING = "sending", "Sending (outcome unknown)"
        ACCEPTED = "accepted", "Accepted by PEP"
        REFUSED = "refused", "Refused by PEP"

    # PEP's error text is kept for staff to read the reason, bounded: it may echo the chunk's
    # players' data, so it is shown only with the personal-data permission and redacted when
    # one of those players is erased (docs/security.md).
    LAST_ERROR_MAX = 1000
    REDACTED = "[redacted: a player of this chunk was erased]"

    run = models.ForeignKey(MigrationRun, on_delete=models.CASCADE, related_name="chunks")
    sequence = models.PositiveIntegerField()
    first_pk = models.BigIntegerField()
    last_pk = models.BigIntegerField()
    player_count = models.PositiveIntegerField()
    body_bytes = models.PositiveIntegerField()
    gzip_bytes = models.PositiveIntegerField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.SENDING)
    task_id = models.CharField(max_length=200, blank=True)
    error_count = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(default=timezone.now)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "sequence"], name="migration_chunk_sequence"),
        ]

    def __str__(self) -> str:
        return f"chunk {self.sequence} of run {self.run_id} ({self.status})"

    @classmethod
    def bounded_error(cls, text: str) -> str:
        """`text` cut to what `last_error` keeps."""
        return text[: cls.LAST_ERROR_MAX]

    @classmethod
    def redacted_error(cls, text: str) -> str:
        """`text` without PEP's words: only its leading error class (`http_400:`) survives."""
        label, sep, _ = text.partition(":")
        keep = label if sep and label.replace("_", "").isalnum() and len(label) <= 40 else ""
        return f"{keep}: {cls.REDACTED}" if keep else cls.REDACTED


class MigrationError(models.Model):
    """PEP's validation errors for one player in one migration chunk, by wire field name."""

    chunk = models.ForeignKey(MigrationChunk, on_delete=models.CASCADE, related_name="errors")
    player = models.ForeignKey(Player, on_delete=models.CASCADE, related_name="migration_errors")
    errors = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.player_id} in chunk {self.chunk_id}"
