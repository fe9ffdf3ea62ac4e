"""Right to erasure in the outbox: strip personal data from rows already written for a player.

Outbox rows keep the exact request bytes for replay and audit, so after an erasure the profile,
tag and consent requests of that player would still hold what was erased until pruned (and dead
letters are never pruned). docs/delivery.md, "Erasure", describes what is kept and why.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet

from events import forwarding
from events.models import DeliveryAttempt, OutboxMessage
from events.outbox import fingerprint

Status = OutboxMessage.Status

# Message types whose body carries personal data (players.profile.PERSONAL_FIELDS, tags or the
# player's marketing choices). Registration, login/logout, verification and transaction bodies
# hold only the pseudonymous player id, dates, amounts and states, which the operator keeps.
PERSONAL_MESSAGE_TYPES: tuple[str, ...] = (
    "player_update",
    "player_create",
    "player_tags",
    "player_marketing_preferences",
    # A CRM trigger carries whatever attributes the operator sends about the player.
    "crm_trigger",
    # Forwarded to the operator's subscriptions: PEP's event payloads as PEP sent them (reward
    # descriptions, purchase options) and the bridge's notices about the player.
    forwarding.MESSAGE_TYPE,
)
# Valid JSON (the admin pretty-prints bodies) that no PEP endpoint accepts as a request.
REDACTED_BODY = '{"redacted":"right to erasure"}'
REDACTED_TEXT = "[redacted: player erased]"
CANCELLED_ERROR_CLASS = "PlayerErased"


@transaction.atomic
def outbox_redact_player(*, player_id: str) -> int:
    """Cancel and redact the outbox rows of an erased player that carry personal data.

    Undelivered rows (pending, in flight or dead-lettered) become CANCELLED: PEP gets the player
    delete instead, and a cancelled row is never claimed or replayed. Their lease is dropped, so
    a worker sending one right now cannot write its outcome back. Every matching row, delivered
    ones too, has its body replaced by REDACTED_BODY, its fingerprint recomputed (a hash of a
    short body is guessable) and stored error texts blanked, since PEP's error responses may echo
    the values. Method, path (holding only the pseudonymous id), type, ids, timings, status codes
    and the attempt rows stay for the audit. Returns how many rows were redacted; idempotent.
    """
    rows = _personal_rows(player_id)
    ids = list(rows.values_list("id", flat=True))
    if not ids:
        return 0
    _cancel_undelivered(OutboxMessage.objects.filter(id__in=ids))
    _replace_bodies(OutboxMessage.objects.filter(id__in=ids))
    DeliveryAttempt.objects.filter(message_id__in=ids).exclude(error_excerpt="").update(
        error_excerpt=REDACTED_TEXT
    )
    return len(ids)


def _personal_rows(player_id: str) -> QuerySet[OutboxMessage]:
    return (
        OutboxMessage.objects.filter(player_id=player_id, message_type__in=PERSONAL_MESSAGE_TYPES)
        .exclude(body=REDACTED_BODY)
        .select_for_update()
    )


def _cancel_undelivered(rows: QuerySet[OutboxMessage]) -> None:
    rows.filter(status__in=[Status.PENDING, Status.FAILED]).update(
        status=Status.CANCELLED,
        lease_expires_at=None,
        claimed_by="",
        last_error_class=CANCELLED_ERROR_CLASS,
        last_error="cancelled: the player was erased before delivery",
    )


def _replace_bodies(rows: QuerySet[OutboxMessage]) -> None:
    rows.exclude(last_error="").exclude(last_error_class=CANCELLED_ERROR_CLASS).update(
        last_error=REDACTED_TEXT
    )
    body = REDACTED_BODY.encode()
    for method, path in rows.values_list("method", "path").distinct():
        rows.filter(method=method, path=path).update(
            body=REDACTED_BODY, fingerprint=fingerprint(method, path, body)
        )
