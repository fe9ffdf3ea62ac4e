"""Outbox services: claim, deliver, retry schedule, replay, prune, erasure (docs/delivery.md)."""

from __future__ import annotations

from events.kick import request_delivery, request_passes
from events.services.claim import claim_due, release
from events.services.delivery import deliver_batch, drain, worker_name
from events.services.housekeeping import (
    outbox_cancel,
    prune_delivered,
    remove_schedules,
    replay_failed,
    send_now,
    setup_schedules,
)
from events.services.redaction import outbox_redact_player

__all__ = [
    "claim_due",
    "deliver_batch",
    "drain",
    "outbox_cancel",
    "outbox_redact_player",
    "prune_delivered",
    "release",
    "remove_schedules",
    "replay_failed",
    "request_delivery",
    "request_passes",
    "send_now",
    "setup_schedules",
    "worker_name",
]
