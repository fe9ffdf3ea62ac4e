"""The transactional outbox: one row per request to PEP, its attempts, replays and endpoint state.

The outbox row owns the delivery state (attempts, next attempt time, lease, status); django-q2
only runs the code that claims and sends rows. docs/delivery.md describes the guarantees.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone


class OutboxMessage(models.Model):
    """One request to PEP, stored as the exact bytes every attempt and replay sends."""

    class Status(models.TextChoices):
        # A pending row with a lease in the future is in flight at the worker named by
        # claimed_by; once the lease runs out any worker may claim it again.
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed (dead letter)"
        # Never to be sent: the player was erased first (events.services.redaction), or staff
        # cancelled it (housekeeping.outbox_cancel; last_error_class tells which). Not a dead
        # letter, so replays, health figures and pruning leave it alone.
        CANCELLED = "cancelled", "Cancelled (never sent)"

    class Trigger(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        MANUAL = "manual", "Manual"
        REPLAY = "replay", "Replay"

    message_type = models.CharField(max_length=64)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=512)
    # UTF-8 text of the bytes from pepbridge.pep.wire.dumps; None for a request without a body.
    body = models.TextField(null=True, blank=True)  # noqa: DJ001  (None: no body, '' is a body)
    fingerprint = models.CharField(max_length=64)
    # NULL, not '': rows without a key must not collide on the unique constraint.
    dedup_key = models.CharField(max_length=255, null=True, blank=True, unique=True)
    # The player the message is about (admin search, erasure); NULL for none.
    player_id = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001
    # Where the row goes: NULL for PEP, else an operator's webhook subscription (docs/delivery.md,
    # "Targets"). PROTECT: a subscription with rows is disabled, not deleted.
    # No index of its own: outbox_subscription_idx (subscription, created_at) serves its lookups.
    subscription = models.ForeignKey(
        "WebhookSubscription",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    # The ordering key (events.lanes.lane_key): the player, and the target when it is not PEP,
    # so a subscription that is down never holds up the same player's messages to PEP. NULL: no
    # ordering key, the row is independent of every other row.
    lane = models.CharField(max_length=160, null=True, blank=True)  # noqa: DJ001
    # When it happened at the operator (enqueue time if the builder did not say): with id, the
    # order in which one player's messages are sent.
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.SCHEDULED)
    attempts = models.PositiveIntegerField(default=0)
    # Failures in the current retry schedule (picks the schedule step); a replay resets it.
    retry_step = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # Start of the current retry schedule (first transient failure); the schedule runs out
    # OUTBOX_RETRY_FOR after it. A replay clears it, so a replayed row gets a fresh schedule.
    first_failed_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=96, blank=True, default="")
    delivered_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error_class = models.CharField(max_length=64, blank=True, default="")
    last_error = models.TextField(blank=True, default="")
    # The last replay of this row, kept apart from `trigger` (how the *last attempt* was
    # started, which delivery resets to "scheduled"): a replayed row stays findable as one.
    replayed_at = models.DateTimeField(null=True, blank=True)
    # db_default too: rows inserted by code that predates these columns (a rolling deploy,
    # raw SQL loads) still get a value.
    replayed_by = models.CharField(max_length=150, blank=True, default="", db_default="")
    replay_count = models.PositiveIntegerField(default=0, db_default=0)

    class Meta:
        verbose_name = "outbox message"
        # Composite indexes led by equality columns rather than partial ones: SQLite (and a
        # generic PostgreSQL plan) cannot match a partial index's `status = 'pending'` against
        # the bound parameter `status = %s` that the ORM sends.
        indexes = [
            # Claim query and health "oldest due": pending rows in due order.
            models.Index(fields=["status", "next_attempt_at"], name="outbox_due_idx"),
            # Claim query's head check: "no earlier pending row of the same lane".
            models.Index(
                fields=["lane", "status", "occurred_at", "id"], name="outbox_lane_head_idx"
            ),
            # Admin list filtered by status, newest first; replay's time window.
            models.Index(fields=["status", "created_at"], name="outbox_status_created_idx"),
            # Admin filter by message type.
            models.Index(fields=["message_type", "created_at"], name="outbox_type_created_idx"),
            # Admin trigger filter: the rare "manual" / "replay" rows, alone or by date.
            models.Index(fields=["trigger", "created_at"], name="outbox_trigger_created_idx"),
            # Admin "replayed" filter: the rare replayed rows, newest replay first.
            models.Index(fields=["replayed_at"], name="outbox_replayed_idx"),
            # Admin date filter without a status: ranges ending now, counted without a scan.
            models.Index(fields=["created_at"], name="outbox_created_idx"),
            # Admin search / filter by player: a player's history.
            models.Index(fields=["player_id", "created_at"], name="outbox_player_created_idx"),
            # Admin "last error" filter, replay by error class, health "failed last hour".
            models.Index(
                fields=["status", "last_error_class", "failed_at"], name="outbox_failed_error_idx"
            ),
            # Pruning old deliveries and health "delivered last hour".
            models.Index(fields=["status", "delivered_at"], name="outbox_delivered_at_idx"),
            # Claim of rows without a lane (lane IS NULL): due order.
            models.Index(fields=["lane", "status", "next_attempt_at"], name="outbox_lane_due_idx"),
            # A subscription's deliveries in the admin, newest first.
            models.Index(fields=["subscription", "created_at"], name="outbox_subscription_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "delivered", "failed", "cancelled"]),
                name="outbox_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(method__in=["POST", "PATCH", "PUT", "DELETE"]),
                name="outbox_method_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.message_type} #{self.pk} ({self.status})"

    def endpoint(self) -> str:
        """The circuit breaker's and rate limit's key: the message type, or the subscription."""
        if self.subscription_id is None:
            return self.message_type
        return f"webhook:{self.subscription_id}"

    def webhook_id(self) -> str:
        """Standard Webhooks' `webhook-id`: the same on every attempt and replay of this row."""
        return f"msg_{self.pk}_{self.fingerprint[:12]}"

    def body_bytes(self) -> bytes | None:
        """The exact request body, as sent on every attempt."""
        return None if self.body is None else self.body.encode()

    def is_in_flight(self) -> bool:
        now = timezone.now()
        return (
            self.status == self.Status.PENDING
            and self.lease_expires_at is not None
            and self.lease_expires_at > now
        )


class OutboxLane(models.Model):
    """One lane with pending outbox rows, as the claim sees it (docs/delivery.md, "Lanes").

    A lane is a player's messages to one target: `player_id` holds the lane key
    (events.lanes.lane_key), which is the player id itself for messages to PEP.

    The claim reads due lanes, not the backlog: a lane is one row however many messages its
    player has queued, so a claim costs the same at any depth. `next_attempt_at` is when to look
    at the lane again (its head's due time, the end of its lease while a worker holds it, or
    now when it is ready); it is a hint the claim corrects, never the rows' own state.
    """

    player_id = models.CharField(max_length=160, primary_key=True)
    next_attempt_at = models.DateTimeField()
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=96, blank=True, default="")
    # Bumped by every enqueue for the player: a worker that read the lane at one version may
    # delete it (no rows left) or park it (head backing off) only if no row came in since.
    version = models.PositiveBigIntegerField(default=0)

    class Meta:
        indexes = [
            # The claim: lanes due now, oldest first (a leased lane is due when its lease ends).
            models.Index(fields=["next_attempt_at"], name="lane_due_idx"),
        ]

    def __str__(self) -> str:
        return f"lane {self.player_id} (next {self.next_attempt_at:%H:%M:%S})"


class RoundTransaction(models.Model):
    """A casino-round transaction in the outbox, keyed by the operator's ids (round, transaction).

    Idempotency of rounds is per transaction (players.event_rounds): the unique pair says in
    one indexed query which transactions of a round were accepted, and the fingerprint whether a
    resend carries the same content. Written in the transaction that writes its outbox row and
    deleted with it, so the window is the outbox's retention, as for every other dedup key.
    """

    round_id = models.CharField(max_length=128)
    transaction_id = models.CharField(max_length=128)
    # sha256 of the row as PEP receives it (canonical wire JSON): equal content, equal print.
    fingerprint = models.CharField(max_length=64)
    message = models.ForeignKey(
        OutboxMessage, on_delete=models.CASCADE, related_name="round_transactions"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["round_id", "transaction_id"], name="round_transaction_unique"
            )
        ]

    def __str__(self) -> str:
        return f"round {self.round_id} transaction {self.transaction_id}"


class DeliveryAttempt(models.Model):
    """One send of an outbox row to PEP (append-only)."""

    class Outcome(models.TextChoices):
        DELIVERED = "delivered", "Delivered"
        RETRY = "retry", "Will retry"
        FAILED = "failed", "Dead-lettered"

    message = models.ForeignKey(OutboxMessage, on_delete=models.CASCADE, related_name="deliveries")
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    error_class = models.CharField(max_length=64, blank=True, default="")
    error_excerpt = models.TextField(blank=True, default="")
    trigger = models.CharField(max_length=16, choices=OutboxMessage.Trigger.choices)
    worker = models.CharField(max_length=96, blank=True, default="")

    class Meta:
        indexes = [
            # Admin inline / attempt history of one message, newest first.
            models.Index(fields=["message", "-started_at"], name="attempt_message_started_idx"),
            # The dashboard's deliveries-per-hour series over the last 24 hours.
            models.Index(fields=["-started_at"], name="attempt_started_idx"),
            # Admin outcome filter: the rare "retry" / "failed" attempts, alone or by date.
            models.Index(fields=["outcome", "started_at"], name="attempt_outcome_started_idx"),
        ]

    def __str__(self) -> str:
        return f"attempt on #{self.message_id} at {self.started_at:%Y-%m-%d %H:%M:%S}"


class Replay(models.Model):
    """Who re-armed which dead letters, when, with which filter, and how many (audit)."""

    actor = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now)
    filter = models.JSONField(default=dict)
    count = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["-created_at"], name="replay_created_idx")]

    def __str__(self) -> str:
        return f"replay by {self.actor} of {self.count} at {self.created_at:%Y-%m-%d %H:%M}"


class EndpointState(models.Model):
    """Rate-limit bucket and circuit breaker of one endpoint (message type), shared by workers.

    Kept in the database, not the cache, so every worker on every machine sees the same state
    whether or not Redis is configured (docs/delivery.md).
    """

    class Circuit(models.TextChoices):
        CLOSED = "closed", "Closed"
        OPEN = "open", "Open"
        HALF_OPEN = "half_open", "Half open (probing)"

    message_type = models.CharField(max_length=64, primary_key=True)
    tokens = models.FloatField(default=0.0)
    tokens_at = models.DateTimeField(null=True, blank=True)
    circuit = models.CharField(max_length=16, choices=Circuit.choices, default=Circuit.CLOSED)
    window_started_at = models.DateTimeField(null=True, blank=True)
    window_requests = models.PositiveIntegerField(default=0)
    window_failures = models.PositiveIntegerField(default=0)
    opened_at = models.DateTimeField(null=True, blank=True)
    # Open: no sends before this. Half open: the probe's lease.
    retry_at = models.DateTimeField(null=True, blank=True)
    consecutive_opens = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.message_type}: {self.circuit}"


class WebhookSubscription(models.Model):
    """An operator system that receives PEP's events and the bridge's own (docs/webhooks.md).

    Deliveries are outbox rows targeting it, signed with `secret` per the Standard Webhooks
    specification. The secret is needed in clear to sign, so it is stored as is; no admin page
    shows it after the one that answers its creation or rotation.
    """

    name = models.CharField(max_length=100, unique=True)
    url = models.URLField(max_length=500)
    # Event types it receives ("pep.level_up", "bridge.bonus_granted", "pep.*"); empty: all.
    event_types = models.JSONField(default=list, blank=True)
    enabled = models.BooleanField(default=True)
    secret = models.CharField(max_length=100, editable=False)
    secret_rotated_at = models.DateTimeField(default=timezone.now)
    # After a rotation the old secret signs too, until `previous_secret_until`, so the operator
    # can switch their receiver without a gap (Standard Webhooks carries several signatures).
    previous_secret = models.CharField(max_length=100, blank=True, default="", editable=False)
    previous_secret_until = models.DateTimeField(null=True, blank=True, editable=False)
    # At most `rate_limit_count` requests per `rate_limit_seconds` to this receiver, for all
    # workers together (the outbox's token bucket, as OUTBOX_RATE_LIMITS for PEP); no count: no
    # limit beyond the receiver's own 429s.
    rate_limit_count = models.PositiveIntegerField(null=True, blank=True)
    rate_limit_seconds = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "webhook subscription"

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:  # never the secret
        return f"<WebhookSubscription {self.pk} {self.name}>"

    def signing_secrets(self, now: datetime) -> list[str]:
        """The secrets a delivery is signed with now: the current one, and the previous one
        while its overlap after a rotation lasts."""
        until = self.previous_secret_until
        if self.previous_secret and until is not None and now < until:
            return [self.secret, self.previous_secret]
        return [self.secret]

    def clean(self) -> None:
        super().clean()
        if self.rate_limit_count is not None and self.rate_limit_count < 1:
            raise ValidationError({"rate_limit_count": "At least 1, or empty for no limit."})
        if self.rate_limit_seconds < 1:
            raise ValidationError({"rate_limit_seconds": "At least 1 second."})

    def wants(self, event_type: str) -> bool:
        """Whether an event of this type goes to this subscription."""
        if not self.event_types:
            return True
        for pattern in self.event_types:
            if pattern == event_type:
                return True
            if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
                return True
        return False
