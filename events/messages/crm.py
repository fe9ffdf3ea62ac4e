"""Builders for CRM events: a player's unsubscribe from a campaign and custom trigger events.

Trigger payload values are typed from their Python type (str → string, bool → boolean, int or
Decimal → number, date/datetime → date), so callers pass a plain mapping and never spell PEP's
`{key, type, value}` items themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from events.messages.base import Errors, day, make_message, timestamp
from events.outbox import PepMessage
from pepbridge.pep import contract

_UNSUBSCRIBE = contract.body_spec("player_unsubscribe")
_TRIGGER = contract.body_spec("crm_trigger")
_TRIGGER_ITEM = _TRIGGER.item("payload")


def build_unsubscribe(
    player_id: str, campaign_id: str, occurred_at: datetime, *, reason: str | None = None
) -> PepMessage:
    """Build the analytics event telling PEP a player unsubscribed from one campaign."""
    errors = Errors()
    when = timestamp(errors, _UNSUBSCRIBE.wire("date"), occurred_at)
    errors.raise_if_any("player_unsubscribe")
    body = contract.wire_body(
        _UNSUBSCRIBE, player_id=player_id, campaign_id=campaign_id, reason=reason, date=when
    )
    return make_message(
        "player_unsubscribe",
        body,
        player_id=player_id,
        dedup_key=f"unsubscribe:{player_id}:{campaign_id}:{when}",
        occurred_at=occurred_at,
    )


@dataclass(frozen=True)
class CrmTriggerInput:
    """A named CRM trigger for a player, or for someone who is not one (`external`).

    `trigger_id`, when given, is our id for this firing: a resend with the same id is one message.
    """

    event_name: str
    occurred_at: datetime
    player_id: str | None = None
    values: Mapping[str, Any] = field(default_factory=dict)
    version: str | None = None
    external: Mapping[str, Any] | None = None
    delay: timedelta | None = None
    keep_counter: bool = False
    trigger_id: str | None = None


def iso_duration(delay: timedelta) -> str:
    """Render a non-negative timedelta as an ISO-8601 duration, e.g. P1DT2H30M or PT0S."""
    hours, rest = divmod(delay.seconds, 3_600)
    minutes, seconds = divmod(rest, 60)
    micros = delay.microseconds
    secs = f"{seconds}.{micros:06d}".rstrip("0") if micros else str(seconds)
    day_part = f"{delay.days}D" if delay.days else ""
    time_part = (
        (f"{hours}H" if hours else "")
        + (f"{minutes}M" if minutes else "")
        + (f"{secs}S" if seconds or micros else "")
    )
    if not day_part and not time_part:
        return "PT0S"
    return "P" + day_part + (f"T{time_part}" if time_part else "")


def _typed_value(errors: Errors, path: str, value: Any) -> tuple[str, Any]:
    if isinstance(value, bool):
        return "boolean", value
    if isinstance(value, int | Decimal):
        return "number", value
    if isinstance(value, datetime):
        return "date", timestamp(errors, path, value)
    if isinstance(value, date):
        return "date", day(errors, path, value)
    if isinstance(value, str):
        return "string", value
    errors.add(path, f"cannot send a {type(value).__name__} (use str, bool, int, Decimal, date)")
    return "string", ""


def _payload(errors: Errors, values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The trigger's `{key, type, value}` items, by attr."""
    items = []
    for index, (key, value) in enumerate(values.items()):
        path = f"{_TRIGGER.wire('payload')}.{index}.{_TRIGGER_ITEM.wire('value')}"
        kind, wire_value = _typed_value(errors, path, value)
        items.append({"key": key, "type": kind, "value": wire_value})
    return items


def build_crm_trigger(trigger: CrmTriggerInput) -> PepMessage:
    """Build a custom CRM trigger event ("Process trigger action")."""
    errors = Errors()
    w = _TRIGGER.wire
    if trigger.delay is not None and trigger.delay < timedelta(0):
        errors.add(
            f"{w('delay')}.{_TRIGGER.item('delay').wire('duration')}", "must not be negative"
        )
    body = contract.wire_body(
        _TRIGGER,
        event_name=trigger.event_name,
        player_id=trigger.player_id,
        version=trigger.version,
        event_date=timestamp(errors, w("event_date"), trigger.occurred_at),
        payload=_payload(errors, trigger.values) if trigger.values else None,
        external=dict(trigger.external) if trigger.external is not None else None,
        delay={"duration": iso_duration(trigger.delay)} if trigger.delay else None,
        keep_counter=True if trigger.keep_counter else None,
    )
    errors.raise_if_any("crm_trigger")
    return make_message(
        "crm_trigger",
        body,
        player_id=trigger.player_id,
        dedup_key=f"crm:{trigger.trigger_id}" if trigger.trigger_id else None,
        occurred_at=trigger.occurred_at,
    )
