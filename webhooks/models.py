"""The inbox of PEP's event webhooks, what the events tell us, and reward-shop fulfilment.

Every request is kept as received (WebhookDelivery) and every event once (InboxEvent, unique by
a derived key: PEP's contract carries no event id). Handlers turn events into snapshots and
fulfilments; each snapshot field keeps the time it is true as of, so a late event never
overwrites a newer value.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from bonuses.models import Bonus, BonusAssignment, PlayerBonus
from players.models import Player


class WebhookDelivery(models.Model):
    """One signed POST from PEP, body kept as received (text), accepted with 202.

    The request stores only this row, so PEP's 202 costs one insert; the worker splits the
    body into inbox events afterwards (`split_at`), in its own transaction (docs/webhooks.md §4).
    """

    class SignedForm(models.TextChoices):
        RAW = "raw", "Body as sent"
        COMPACT = "compact", "Compact re-serialisation"
        POLL = "poll", "Polled (Data Fetch API, not signed)"

    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    timestamp_header = models.CharField(max_length=64)
    signed_at = models.DateTimeField()
    # SHA-256 of "<timestamp>.<signature>": the same signed request sent again is refused.
    replay_key = models.CharField(max_length=64, unique=True)
    key_slot = models.PositiveSmallIntegerField(help_text="1 = first key of PEP_WEBHOOK_SECRETS")
    signed_form = models.CharField(max_length=8, choices=SignedForm.choices)
    body = models.TextField()
    event_count = models.PositiveIntegerField(default=0)
    new_event_count = models.PositiveIntegerField(default=0)
    # null = still to split (the worker's queue, docs/webhooks.md §4).
    split_at = models.DateTimeField(
        null=True, blank=True, help_text="When its events went into the inbox (the worker)"
    )

    class Meta:
        verbose_name_plural = "webhook deliveries"
        indexes = [
            # The splitter's queue: small however long the delivery history grows.
            models.Index(
                fields=["id"],
                condition=models.Q(split_at__isnull=True),
                name="webhookdelivery_unsplit_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"delivery #{self.pk}"


class InboxEvent(models.Model):
    """One PEP event, stored once however often it is delivered, processed once."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSED = "processed", "Processed"
        STORED = "stored", "Stored (no handler)"
        FAILED = "failed", "Failed (see error)"

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.PROTECT, related_name="events")
    # sha256 of eventName, eventDate and the canonical payload (docs/webhooks.md).
    dedup_key = models.CharField(max_length=64, unique=True)
    event_name = models.CharField(max_length=128, db_index=True)
    event_date = models.DateTimeField(null=True, blank=True)
    player_ref = models.CharField(max_length=128, blank=True, db_index=True)
    raw = models.JSONField(help_text="The event exactly as PEP sent it.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    duplicate_count = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            # The worker's and the sweep's query: pending events, oldest first.
            models.Index(fields=["status", "received_at"], name="inboxevent_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_name} #{self.pk}"


class LoyaltySnapshot(models.Model):
    """A player's level, rank and XP as PEP last told us; each with the time it is true as of."""

    player_ref = models.CharField(max_length=128, unique=True)
    player = models.ForeignKey(
        Player, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    level = models.IntegerField(null=True, blank=True)
    level_at = models.DateTimeField(null=True, blank=True)
    rank = models.CharField(max_length=200, blank=True)
    rank_at = models.DateTimeField(null=True, blank=True)
    xp = models.DecimalField(max_digits=24, decimal_places=4, null=True, blank=True)
    xp_at = models.DateTimeField(null=True, blank=True)
    source_event = models.ForeignKey(
        InboxEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"loyalty of {self.player_ref}"


class TokenBalance(models.Model):
    """A player's PEP wallet balance per virtual currency, as of its newest wallet event."""

    player_ref = models.CharField(max_length=128)
    player = models.ForeignKey(
        Player, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    currency = models.CharField(max_length=64, default="tokens")
    balance = models.DecimalField(max_digits=24, decimal_places=4)
    as_of = models.DateTimeField()
    source_event = models.ForeignKey(
        InboxEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["player_ref", "currency"], name="tokenbalance_one_per_currency"
            )
        ]

    def __str__(self) -> str:
        return f"{self.balance} {self.currency} of {self.player_ref}"


class ProductMapping(models.Model):
    """Staff's choice of the catalogue bonus a reward-shop product grants (by id, else name)."""

    pep_product_id = models.CharField(max_length=128, blank=True)
    pep_product_name = models.CharField(max_length=200, blank=True)
    bonus = models.ForeignKey(Bonus, on_delete=models.PROTECT, related_name="+")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(pep_product_id="") | ~models.Q(pep_product_name=""),
                name="productmapping_needs_id_or_name",
            ),
            models.UniqueConstraint(
                fields=["pep_product_id"],
                condition=~models.Q(pep_product_id=""),
                name="productmapping_one_per_id",
            ),
            models.UniqueConstraint(
                fields=["pep_product_name"],
                condition=models.Q(pep_product_id=""),
                name="productmapping_one_per_name",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.pep_product_id or self.pep_product_name} -> {self.bonus_id}"


class Fulfilment(models.Model):
    """One reward-shop purchase to grant, exactly once (unique `purchase_key`)."""

    class Status(models.TextChoices):
        PENDING = "pending", "To fulfil (no mapping yet)"
        DONE = "done", "Done"
        FAILED = "failed", "Failed (see reason)"

    purchase_key = models.CharField(max_length=64, unique=True)
    event = models.ForeignKey(InboxEvent, on_delete=models.PROTECT, related_name="fulfilments")
    player_ref = models.CharField(max_length=128, db_index=True)
    product_id = models.CharField(max_length=128, blank=True)
    product_name = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    mapping = models.ForeignKey(
        ProductMapping, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assignment = models.ForeignKey(
        BonusAssignment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    player_bonus = models.ForeignKey(
        PlayerBonus, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    attempts = models.PositiveIntegerField(default=0)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    fulfilled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "created_at"], name="fulfilment_status_idx")]

    def __str__(self) -> str:
        return f"purchase {self.product_id or self.product_name} by {self.player_ref}"


class RewardsCursor(models.Model):
    """The rewards poller's place in PEP's reward-processor feed (one row, name "rewards").

    `delta` is sent as PEP's `delta` parameter; `next_page` is set while a drain is cut short
    (the rate budget), so the next run continues it. `lease_until` keeps two runs apart (a
    compare-and-set UPDATE, no lock held during HTTP); `recent_requests` holds the epoch
    seconds of the requests of the last minute, for the Data Fetch API's 100/min limit.
    """

    name = models.CharField(max_length=32, unique=True, default="rewards")
    delta = models.CharField(max_length=64, blank=True)
    next_page = models.CharField(max_length=512, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    recent_requests = models.JSONField(default=list, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    rewards_seen = models.PositiveBigIntegerField(default=0)
    bonus_offers_stored = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"rewards cursor {self.delta or '(start)'}"
