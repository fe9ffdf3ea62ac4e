"""The operator's bonus catalogue, the bonuses players hold, and PEP's assign-bonus requests."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from pepbridge.api.models import DEFAULT_SENDER
from players.models import Player

_CURRENCY = RegexValidator(r"^[A-Z]{3}$", "Use a 3-letter upper-case ISO 4217 code.")


def decimal_fits(field: models.Field, value: Decimal) -> bool:
    """Whether `value`, rounded to the field's decimal places, can be stored in the field.

    A value too large for `max_digits` makes PostgreSQL raise `numeric field overflow` and is
    stored by SQLite as a number Django can no longer read back: check before writing.
    """
    if not isinstance(field, models.DecimalField) or not value.is_finite():
        return False
    limit = Decimal(10) ** (field.max_digits - field.decimal_places)
    if abs(value) >= limit:  # before quantize, which fails beyond the context's precision
        return False
    return abs(value.quantize(Decimal(1).scaleb(-field.decimal_places))) < limit


def _limit_field(help_text: str) -> models.DecimalField:
    """An optional money limit, as wide as the amounts it limits; empty means no limit."""
    return models.DecimalField(
        max_digits=18,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text=f"{help_text} Empty: no limit.",
    )


class BonusType(models.TextChoices):
    CASH = "cash", "Cash bonus"
    FREE_SPINS = "free_spins", "Free spins"
    FREE_BET = "free_bet", "Free bet"
    DEPOSIT_MATCH = "deposit_match", "Deposit match"
    CASHBACK = "cashback", "Cashback"
    OTHER = "other", "Other"


class Bonus(models.Model):
    """One bonus of the operator's catalogue; `bonus_id` is what PEP knows it by (bonusOfferId).

    A bonus is worth either a fixed `amount` (money in `currency`, or a number of spins/bets) or a
    `percentage` (deposit match, cashback). Retired bonuses stay as rows so that the player
    bonuses granted from them keep their reference; PEP is told to delete the offer.
    """

    bonus_id = models.CharField(
        max_length=64, unique=True, validators=[RegexValidator(r"^[^\s/?#%]{1,64}$")]
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    bonus_type = models.CharField(max_length=16, choices=BonusType.choices)
    amount = models.DecimalField(
        max_digits=18, decimal_places=4, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    percentage = models.DecimalField(
        max_digits=7, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    currency = models.CharField(max_length=3, blank=True, validators=[_CURRENCY])
    # Times the bonus amount must be wagered before it turns into real money.
    wagering_requirement = models.DecimalField(
        max_digits=7, decimal_places=2, default=0, validators=[MinValueValidator(0)]
    )
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_to = models.DateTimeField(null=True, blank=True)
    # Days a granted bonus stays usable; empty means it does not expire.
    expires_after_days = models.PositiveIntegerField(null=True, blank=True)
    max_grants_per_player = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    # Money limits, checked by the grant (bonuses.services.grants) inside its transaction.
    # Off for new bonuses (an override is money PEP decides); bonuses that existed before the
    # limits keep PEP's overrides (migration 0007) until staff decide.
    amount_override_allowed = models.BooleanField(
        default=False,
        help_text="May PEP's assign-bonus request give its own amount? If not, such a request "
        "is answered 400 (or refused at grant time if this changed after it was accepted).",
    )
    min_amount_per_grant = _limit_field(
        "Smallest amount one grant may have (the catalogue amount or PEP's override)."
    )
    max_amount_per_grant = _limit_field(
        "Largest amount one grant may have (the catalogue amount or PEP's override)."
    )
    daily_cap_per_player = _limit_field(
        "Most of this bonus one player may be granted per day, summed over the day's grants "
        "(cancelled grants do not count). The day is the calendar day in TIME_ZONE."
    )
    daily_cap = _limit_field(
        "Most of this bonus all players together may be granted per day. Grants of this bonus "
        "take turns (a row lock) so two cannot both pass the cap."
    )
    is_active = models.BooleanField(default=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["bonus_id"]
        verbose_name_plural = "bonuses"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount__isnull=True, percentage__isnull=False)
                | models.Q(amount__isnull=False, percentage__isnull=True),
                name="bonus_amount_xor_percentage",
                violation_error_message="Give either an amount or a percentage, not both.",
            ),
            models.CheckConstraint(
                condition=models.Q(valid_from__isnull=True)
                | models.Q(valid_to__isnull=True)
                | models.Q(valid_to__gt=models.F("valid_from")),
                name="bonus_valid_window_ordered",
                violation_error_message="valid_to must be after valid_from.",
            ),
            models.CheckConstraint(
                condition=models.Q(retired_at__isnull=True) | models.Q(is_active=False),
                name="bonus_retired_is_inactive",
                violation_error_message="A retired bonus cannot be active.",
            ),
            models.CheckConstraint(
                condition=models.Q(min_amount_per_grant__isnull=True)
                | models.Q(max_amount_per_grant__isnull=True)
                | models.Q(min_amount_per_grant__lte=models.F("max_amount_per_grant")),
                name="bonus_grant_limits_ordered",
                violation_error_message="The minimum per grant cannot exceed the maximum.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.bonus_id} ({self.name})"

    def clean(self) -> None:
        """Refuse a catalogue amount the grant would refuse anyway (too large, out of limits)."""
        if self.amount is None:
            return
        if not self.grant_fits(self.amount):
            raise ValidationError(
                {"wagering_requirement": "Amount x wagering requirement is too large to store."}
            )
        if self.amount_refusal(self.amount, overridden=False) is not None:
            raise ValidationError(
                {"amount": "The amount is outside the per-grant minimum/maximum."}
            )

    def amount_refusal(self, amount: Decimal, *, overridden: bool) -> str | None:
        """Why one grant of `amount` breaks this bonus's per-grant rules (a Reason), or None.

        `overridden`: PEP asked for an amount other than the catalogue's (sending the catalogue
        amount itself is not an override).
        """
        reason = AssignmentItem.Reason
        if not self.grant_fits(amount):
            return reason.AMOUNT_INVALID
        if overridden and not self.amount_override_allowed:
            return reason.OVERRIDE_DENIED
        if self.min_amount_per_grant is not None and amount < self.min_amount_per_grant:
            return reason.BELOW_MIN
        if self.max_amount_per_grant is not None and amount > self.max_amount_per_grant:
            return reason.ABOVE_MAX
        return None

    def grant_fits(self, amount: Decimal) -> bool:
        """Whether a grant of `amount` and its wagering (amount x requirement) can be stored."""
        wagering = amount * (self.wagering_requirement or 0)
        return decimal_fits(PlayerBonus._meta.get_field("amount"), amount) and decimal_fits(
            PlayerBonus._meta.get_field("wagering_required"), wagering
        )

    def is_offered(self, at: datetime | None = None) -> bool:
        """Active, not retired, and inside its validity window at `at` (default: now)."""
        return self.is_active and self.retired_at is None and self.is_in_window(at)

    def is_in_window(self, at: datetime | None = None) -> bool:
        moment = at or timezone.now()
        if self.valid_from is not None and moment < self.valid_from:
            return False
        return self.valid_to is None or moment <= self.valid_to


class PlayerBonus(models.Model):
    """A bonus a player holds, with its lifecycle; `source_request_id` is PEP's requestId."""

    class Status(models.TextChoices):
        GRANTED = "granted", "Granted"
        ACTIVE = "active", "Active"
        WAGERED = "wagered", "Wagered"
        COMPLETED = "completed", "Completed"
        EXPIRED = "expired", "Expired"
        FORFEITED = "forfeited", "Forfeited"
        CANCELLED = "cancelled", "Cancelled"

    # Which status may follow which; the ones missing as keys are final.
    TRANSITIONS: dict[str, tuple[str, ...]] = {
        Status.GRANTED: (Status.ACTIVE, Status.EXPIRED, Status.FORFEITED, Status.CANCELLED),
        Status.ACTIVE: (Status.WAGERED, Status.EXPIRED, Status.FORFEITED, Status.CANCELLED),
        Status.WAGERED: (Status.COMPLETED, Status.CANCELLED),
    }

    player = models.ForeignKey(Player, on_delete=models.PROTECT, related_name="bonuses")
    bonus = models.ForeignKey(Bonus, on_delete=models.PROTECT, related_name="grants")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.GRANTED)
    amount = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    wagering_required = models.DecimalField(max_digits=18, decimal_places=4, default=0)
    source_request_id = models.CharField(max_length=128, blank=True)
    granted_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    status_changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "player bonuses"
        indexes = [
            models.Index(fields=["player", "bonus"], name="playerbonus_player_bonus"),
            # The admin's status filter over all player bonuses.
            models.Index(fields=["status", "-granted_at"], name="playerbonus_status"),
            # The expiry sweep (services.player_bonus_expire_due): status IN (...) and
            # expires_at <= now, one range per status. Not a partial index: SQLite cannot match
            # one against a query with bound parameters, which is how Django sends them.
            models.Index(fields=["status", "expires_at"], name="playerbonus_expiry_due"),
            # The grant's daily sums: per bonus (daily_cap) and per currency (DailyGrantBudget).
            models.Index(fields=["bonus", "granted_at"], name="playerbonus_bonus_day"),
            models.Index(fields=["currency", "granted_at"], name="playerbonus_currency_day"),
        ]
        permissions = [
            # The admin's cancel and forfeit actions (bonus managers and admins).
            ("manage_playerbonus", "Can cancel or forfeit players' bonuses"),
        ]

    def __str__(self) -> str:
        # Not "2 for player 1": those are table keys, not the codes staff know (issue 13); the
        # admin names the bonus and player where it has them loaded (PlayerBonusAdmin.describe).
        return f"player bonus #{self.pk} ({self.status})"

    def can_transition_to(self, status: str) -> bool:
        return status in self.TRANSITIONS.get(self.status, ())

    def is_expired(self, at: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (at or timezone.now())


class BonusAssignment(models.Model):
    """One accepted assign-bonus request from PEP, unique per PEP instance and `requestId`.

    `sender` is the PEP instance (pepbridge.api: every credential names its sender), so the same
    requestId through PEP's OAuth client and then through its API key is one request;
    `client_key` keeps which credential sent it first.

    The row is committed before PEP gets its 202, so every later copy of the request finds it.
    `fingerprint` is the SHA-256 of the body's canonical JSON: a copy with another key order or
    spacing has the same fingerprint; a different body under the same requestId does not (409).
    """

    class Status(models.TextChoices):
        ACCEPTED = "accepted", "Accepted, not yet processed"
        PROCESSED = "processed", "Processed"
        # Processing raised (the sweep's second try); `failure_reason` says why. Players not yet
        # decided stay pending until staff retry it.
        FAILED = "failed", "Failed (see the reason)"

    sender = models.CharField(max_length=64, default=DEFAULT_SENDER)
    client_key = models.CharField(max_length=128)
    request_id = models.CharField(max_length=128)
    fingerprint = models.CharField(max_length=64)
    body = models.JSONField()
    event_date = models.DateTimeField()
    bonus = models.ForeignKey(Bonus, on_delete=models.PROTECT, related_name="assignments")
    # The players as PEP named them (duplicates removed); the worker turns them into items.
    player_ids = models.JSONField(default=list)
    amount = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    source = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACCEPTED)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    failure_reason = models.TextField(blank=True)
    duplicate_count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["sender", "request_id"], name="bonusassignment_one_per_sender_request"
            ),
        ]
        indexes = [
            # The lost-task sweep reads accepted rows oldest first.
            models.Index(fields=["status", "received_at"], name="bonusassignment_status_recv"),
        ]

    def __str__(self) -> str:
        return f"{self.client_key}/{self.request_id}"


class AssignmentItem(models.Model):
    """One player of an assignment and what became of them: granted, or refused and why.

    The unique (assignment, player_id) pair and the pending→done compare-and-set make a grant
    happen at most once however many workers process the assignment.
    """

    class Outcome(models.TextChoices):
        PENDING = "pending", "Pending"
        GRANTED = "granted", "Granted"
        REFUSED = "refused", "Refused"

    class Reason(models.TextChoices):
        BONUS_INACTIVE = "bonus_inactive", "Bonus not active"
        OUTSIDE_WINDOW = "outside_window", "Outside the bonus validity window"
        UNKNOWN_PLAYER = "unknown_player", "Unknown player"
        SELF_EXCLUDED = "self_excluded", "Player self-excluded"
        COOL_OFF = "cool_off", "Player in cool-off"
        ACCOUNT_CLOSED = "account_closed", "Account closed"
        ACCOUNT_BLOCKED = "account_blocked", "Account blocked"
        MAX_GRANTS = "max_grants", "Maximum grants per player reached"
        # Amount or amount x wagering requirement too large for the player bonus's columns.
        AMOUNT_INVALID = "amount_invalid", "Amount too large to store"
        # The money limits of the catalogue (Bonus) and the instance (DailyGrantBudget).
        OVERRIDE_DENIED = "override_denied", "PEP may not override this bonus's amount"
        BELOW_MIN = "below_min", "Amount below the bonus's minimum per grant"
        ABOVE_MAX = "above_max", "Amount above the bonus's maximum per grant"
        PLAYER_DAILY_CAP = "player_daily_cap", "The player's daily cap for this bonus is reached"
        BONUS_DAILY_CAP = "bonus_daily_cap", "The bonus's daily cap is reached"
        DAILY_BUDGET = "daily_budget", "The daily budget for the currency is spent"
        # The bonus-granted message could not be built (e.g. no exchange rate for its currency):
        # granting without telling PEP would leave the two sides disagreeing.
        PEP_REJECTED = "pep_rejected", "PEP would reject the bonus-granted message"

    # The reasons that are money limits (alerted as `bonus_limit_refused`, counted by metrics).
    LIMIT_REASONS = frozenset(
        {
            Reason.AMOUNT_INVALID,
            Reason.OVERRIDE_DENIED,
            Reason.BELOW_MIN,
            Reason.ABOVE_MAX,
            Reason.PLAYER_DAILY_CAP,
            Reason.BONUS_DAILY_CAP,
            Reason.DAILY_BUDGET,
        }
    )

    assignment = models.ForeignKey(BonusAssignment, on_delete=models.CASCADE, related_name="items")
    player_id = models.CharField(max_length=64)
    outcome = models.CharField(max_length=8, choices=Outcome.choices, default=Outcome.PENDING)
    reason = models.CharField(max_length=16, choices=Reason.choices, blank=True)
    player_bonus = models.OneToOneField(
        PlayerBonus, on_delete=models.SET_NULL, null=True, blank=True, related_name="item"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["assignment", "player_id"], name="assignmentitem_one_per_player"
            ),
            models.CheckConstraint(
                condition=~models.Q(outcome="refused") | ~models.Q(reason=""),
                name="assignmentitem_refusal_has_reason",
            ),
        ]
        indexes = [
            # selectors.limit_refusals: reason IN (the limit reasons) AND decided_at >= since.
            models.Index(fields=["reason", "decided_at"], name="assignmentitem_reason_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.assignment_id}:{self.player_id} ({self.outcome})"


class DailyGrantBudget(models.Model):
    """The most all bonuses together may grant per calendar day in one currency (staff edit it).

    No row for a currency means no budget. Grants in the currency take turns on this row (a row
    lock in the grant's transaction), so two grants cannot both pass the budget.
    """

    currency = models.CharField(max_length=3, unique=True, validators=[_CURRENCY])
    daily_limit = models.DecimalField(
        max_digits=18,
        decimal_places=4,
        validators=[MinValueValidator(0)],
        help_text="Sum of the amounts granted in this currency per day (TIME_ZONE's calendar "
        "day; cancelled grants do not count). 0 stops every grant in the currency.",
    )
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The staff user who last set the limit.",
    )
    changed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.currency} {self.daily_limit}/day"


class AssignmentConflict(models.Model):
    """A different body sent under an accepted requestId: refused with 409, kept for staff."""

    assignment = models.ForeignKey(
        BonusAssignment, on_delete=models.CASCADE, related_name="conflicts"
    )
    fingerprint = models.CharField(max_length=64)
    body = models.JSONField()
    attempts = models.PositiveIntegerField(default=1)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["assignment", "fingerprint"], name="assignmentconflict_one_per_body"
            ),
        ]

    def __str__(self) -> str:
        return f"conflict on {self.assignment_id} ({self.attempts}x)"


class RejectedAssignment(models.Model):
    """An assign-bonus request answered 400: recorded once per body, counting PEP's retries.

    It does not hold the requestId: if the same request becomes valid later (the bonus was added
    to the catalogue meanwhile), PEP's next retry is accepted. Keyed on the PEP instance
    (`sender`), like BonusAssignment: a retry that comes with another credential of the same
    instance (e.g. during a key rotation) counts as a retry, not as a new rejection;
    `client_key` is the credential that last sent it, kept for staff.
    """

    sender = models.CharField(max_length=64, default=DEFAULT_SENDER)
    client_key = models.CharField(max_length=128)
    request_id = models.CharField(max_length=128, blank=True)
    fingerprint = models.CharField(max_length=64)
    body = models.JSONField()
    errors = models.JSONField(default=dict)
    attempts = models.PositiveIntegerField(default=1)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # The dashboard counts rejected requests per hour of arrival.
            models.Index(fields=["-first_seen_at"], name="rejected_first_seen"),
            # The admin's date filter ("what did PEP try recently": a retry moves it) and the
            # daily prune of rows PEP stopped retrying.
            models.Index(fields=["-last_seen_at"], name="rejected_last_seen"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["sender", "request_id", "fingerprint"],
                name="rejectedassignment_one_per_sender_body",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.client_key}/{self.request_id or '?'} rejected ({self.attempts}x)"
