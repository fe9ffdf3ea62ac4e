"""What every builder shares: the one error type, the contract check and the common wire rules.

A builder turns typed input into a `PepMessage` whose body is exactly what PEP receives. It writes
the body with `contract.wire_body` in our attr names and takes the wire names its error keys need
from the spec (`spec.wire(attr)`), so no wire name is written in a builder. Before it
returns, the body is encoded with `pepbridge.pep.wire`, decoded again and checked against
`pepbridge.pep.contract`, so what is validated is the bytes that will be sent, not a Python object
that could still differ from them; the message carries those bytes to the outbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings

from events.outbox import PepMessage
from pepbridge.pep import contract, wire


class MessageRejected(ValueError):
    """The input cannot become a message PEP accepts; `field_errors` maps wire field → messages.

    An API turns it into a 400 with `field_errors` as the per-field errors.
    """

    def __init__(self, message_type: str, field_errors: Mapping[str, list[str]]) -> None:
        self.message_type = message_type
        self.field_errors: dict[str, list[str]] = {k: list(v) for k, v in field_errors.items()}
        details = "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(self.field_errors.items()))
        super().__init__(f"{message_type} rejected: {details}")


class Errors:
    """Collects field errors so one rejection names every problem, not just the first."""

    def __init__(self) -> None:
        self.by_field: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.by_field.setdefault(field, []).append(message)

    def raise_if_any(self, message_type: str) -> None:
        if self.by_field:
            raise MessageRejected(message_type, self.by_field)


def timestamp(errors: Errors, field: str, moment: datetime) -> str:
    """Render `moment` as UTC ISO-8601 with ms and Z; a naive datetime is a field error."""
    if not isinstance(moment, datetime):
        errors.add(field, "must be a datetime")
        return ""
    if moment.tzinfo is None or moment.utcoffset() is None:
        errors.add(field, "must be timezone-aware")
        return ""
    return wire.format_timestamp(moment)


def day(errors: Errors, field: str, value: date) -> str:
    """Render a calendar date as YYYY-MM-DD (a datetime is refused: it hides a time zone)."""
    if isinstance(value, datetime) or not isinstance(value, date):
        errors.add(field, "must be a date (YYYY-MM-DD), not a datetime")
        return ""
    return value.isoformat()


def amount(errors: Errors, field: str, value: Decimal, *, positive: bool = False) -> Decimal:
    """Check an amount is a finite Decimal (never a float) and not negative (or > 0)."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        errors.add(field, "must be a Decimal (floats lose cents)")
        return Decimal(0)
    value = Decimal(value)
    if not value.is_finite():
        errors.add(field, "must be a finite number")
    elif positive and value <= 0:
        errors.add(field, "must be greater than 0")
    elif value < 0:
        errors.add(field, "must not be negative")
    return value


def balance(errors: Errors, field: str, value: Decimal) -> Decimal:
    """Check a balance: a finite Decimal; it may be negative (credit lines, chargebacks)."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        errors.add(field, "must be a Decimal (floats lose cents)")
        return Decimal(0)
    value = Decimal(value)
    if not value.is_finite():
        errors.add(field, "must be a finite number")
    return value


def exchange_rate(errors: Errors, field: str, currency: str, rate: Decimal | None) -> Decimal:
    """Apply the contract rule: exchangeRate is 1 in the instance currency, given otherwise.

    The rate's direction for other currencies is not published (platform-api.md §12); the caller's
    value is passed through unchanged.
    """
    instance = settings.PEP_INSTANCE_CURRENCY
    if currency == instance:
        if rate is not None and rate != 1:
            errors.add(field, f"must be 1 for the instance currency {instance}")
        return Decimal(1)
    if rate is None:
        errors.add(field, f"is required when currency is not {instance}")
        return Decimal(0)
    return amount(errors, field, rate, positive=True)


def one_amount_positive(
    errors: Errors, spec: contract.Spec, prefix: str, real: Decimal, bonus: Decimal
) -> None:
    """Apply the contract rule: at least one of the real and bonus money amounts is above 0."""
    if real <= 0 and bonus <= 0:
        real_name, bonus_name = spec.wire("real_money_amount"), spec.wire("bonus_money_amount")
        errors.add(
            prefix + real_name,
            f"at least one of {real_name} and {bonus_name} must be greater than 0",
        )


def make_message(
    message_type: str,
    body: Any,
    *,
    player_id: str | None,
    dedup_key: str | None,
    occurred_at: datetime | None,
    path_params: Mapping[str, str] | None = None,
) -> PepMessage:
    """Check `body` against the contract as PEP will see it, then wrap it with method and path."""
    encoded = None if body is None else wire.dumps(body)
    if encoded is not None:
        field_errors = contract.validate(message_type, wire.loads(encoded))
        if field_errors:
            raise MessageRejected(message_type, field_errors)
    params = dict(path_params or {})
    missing = [name for name, value in params.items() if not value]
    if missing:
        raise MessageRejected(message_type, {name: ["is required"] for name in missing})
    message = PepMessage(
        message_type=message_type,
        method=contract.endpoint(message_type).method,
        path=contract.path_for(message_type, **params),
        body=body,
        player_id=player_id,
        dedup_key=dedup_key,
        occurred_at=occurred_at,
    )
    # The outbox stores these bytes as they are: the body is encoded once, and what was checked
    # against the contract is exactly what PEP receives.
    return message if encoded is None else message.with_encoded_body(encoded)
