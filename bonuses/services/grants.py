"""The grant: decide each player of an accepted request, exactly once, and tell PEP.

A grant writes the player's bonus and PEP's bonus-granted message in one transaction; a refusal
records its reason. Item and player rows are locked (in that order) so that concurrent workers
grant once and cannot overrun a bonus's maximum per player.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from contextlib import nullcontext
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from bonuses import messages
from bonuses.models import (
    AssignmentItem,
    Bonus,
    BonusAssignment,
    DailyGrantBudget,
    PlayerBonus,
)
from bonuses.selectors import day_start, granted_since
from bonuses.services.assignments import KICK_KEY
from events.messages import MessageRejected
from players.models import Player

logger = logging.getLogger(__name__)

Reason = AssignmentItem.Reason
_BLOCK_REASONS = {
    "self_excluded": Reason.SELF_EXCLUDED,
    "cool_off": Reason.COOL_OFF,
    "account_closed": Reason.ACCOUNT_CLOSED,
    "account_blocked": Reason.ACCOUNT_BLOCKED,
}


def assignment_process(*, assignment_id: int) -> BonusAssignment:
    """Decide every player of an assignment not yet decided; safe to run twice or concurrently."""
    assignment = BonusAssignment.objects.get(pk=assignment_id)
    AssignmentItem.objects.bulk_create(
        [AssignmentItem(assignment=assignment, player_id=pid) for pid in assignment.player_ids],
        ignore_conflicts=True,  # a second run, or another worker, made them already
    )
    pending = AssignmentItem.objects.filter(
        assignment_id=assignment_id, outcome=AssignmentItem.Outcome.PENDING
    ).values_list("pk", flat=True)
    for item_id in list(pending):
        _item_decide(item_id)
    BonusAssignment.objects.filter(
        pk=assignment_id, status=BonusAssignment.Status.ACCEPTED
    ).exclude(items__outcome=AssignmentItem.Outcome.PENDING).update(
        status=BonusAssignment.Status.PROCESSED, processed_at=timezone.now()
    )
    assignment.refresh_from_db()
    return assignment


def assignment_process_pending(
    *, max_seconds: float = 50.0, idle_for: float | None = None, poll: float = 0.1
) -> int:
    """Grant accepted requests, oldest first, until none has arrived for `idle_for` seconds.

    Waiting out the kick debounce (the default `idle_for`) covers requests whose kick was
    swallowed while this pass was queued. One failing assignment is logged and skipped so it
    cannot block the rest; the sweep retries it.
    """
    idle_for = settings.BONUS_GRANT_KICK_DEBOUNCE if idle_for is None else idle_for
    cache.delete(KICK_KEY)  # a request committed from now on queues the next pass
    deadline, quiet_since = time.monotonic() + max_seconds, time.monotonic()
    done: set[int] = set()
    while time.monotonic() < deadline:
        ids = _accepted_ids(exclude=done, limit=100)
        for assignment_id in ids:
            done.add(assignment_id)
            _process_logged(assignment_id)
        if ids:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= idle_for:
            break
        else:
            time.sleep(poll)
    return len(done)


def _accepted_ids(*, exclude: set[int], limit: int) -> list[int]:
    accepted = BonusAssignment.objects.filter(status=BonusAssignment.Status.ACCEPTED)
    return list(
        accepted.exclude(pk__in=exclude)
        .order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )


def _process_logged(assignment_id: int) -> None:
    try:
        assignment_process(assignment_id=assignment_id)
    except Exception:
        logger.exception("bonus_assignment_failed assignment_id=%s", assignment_id)


@transaction.atomic
def _item_decide(item_id: int) -> None:
    """Grant or refuse one player. Lock order: the item, then the player (no deadlock).

    The item lock makes a second worker wait and then see the outcome already decided; the
    player lock serialises grants of one player, so the per-player maximum cannot be overrun.
    """
    item = AssignmentItem.objects.select_for_update().select_related("assignment").get(pk=item_id)
    if item.outcome != AssignmentItem.Outcome.PENDING:
        return
    player = Player.objects.select_for_update().filter(player_id=item.player_id).first()
    bonus = Bonus.objects.get(pk=item.assignment.bonus_id)
    reason = _refusal_reason(bonus, player)
    if reason is not None or player is None:
        _item_refuse(item, reason or Reason.UNKNOWN_PLAYER)
        return
    reason = _limit_refusal(item.assignment, bonus, player)
    if reason is not None:
        _item_refuse(item, reason)
        _limit_alert(item, bonus, reason)
        return
    try:
        # A savepoint: an unsendable message undoes the player bonus, not the refusal below.
        with transaction.atomic():
            player_bonus = _player_bonus_create(item.assignment, bonus, player)
    except MessageRejected as exc:
        logger.error("bonus_grant_unsendable item_id=%s error=%s", item_id, exc)
        _item_refuse(item, Reason.PEP_REJECTED)
        return
    item.outcome, item.player_bonus = AssignmentItem.Outcome.GRANTED, player_bonus
    item.decided_at = timezone.now()
    item.save(update_fields=["outcome", "player_bonus", "decided_at"])


def _item_refuse(item: AssignmentItem, reason: str) -> None:
    item.outcome, item.reason = AssignmentItem.Outcome.REFUSED, reason
    item.decided_at = timezone.now()
    item.save(update_fields=["outcome", "reason", "decided_at"])
    logger.info("bonus_refused item_id=%s reason=%s", item.pk, reason)


def _refusal_reason(bonus: Bonus, player: Player | None) -> str | None:
    """The grant rules, in the order an auditor reads them; None means grant."""
    if not bonus.is_active or bonus.retired_at is not None:
        return Reason.BONUS_INACTIVE
    if not bonus.is_in_window():
        return Reason.OUTSIDE_WINDOW
    if player is None:
        return Reason.UNKNOWN_PLAYER
    block = player.bonus_block_reason()
    if block is not None:
        return _BLOCK_REASONS.get(block, Reason.ACCOUNT_BLOCKED)
    if bonus.max_grants_per_player is not None:
        held = PlayerBonus.objects.filter(player=player, bonus=bonus).exclude(
            status=PlayerBonus.Status.CANCELLED
        )
        if held.count() >= bonus.max_grants_per_player:
            return Reason.MAX_GRANTS
    return None


def _grant_amount(assignment: BonusAssignment, bonus: Bonus) -> Decimal | None:
    return assignment.amount if assignment.amount is not None else bonus.amount


def _limit_refusal(assignment: BonusAssignment, bonus: Bonus, player: Player) -> str | None:
    """The money limits, in the caller's transaction; None means the grant fits them all.

    The per-grant rules are re-checked here because the catalogue may have changed since the
    request was accepted. Each daily sum is read under a lock that every grant it counts must
    also take: the player row (held by the caller) for the per-player cap, the bonus row for
    the bonus's cap, the budget row for the currency's budget. Lock order: item, player,
    bonus, budget, the same in every grant, so grants cannot deadlock.
    """
    amount = _grant_amount(assignment, bonus)
    if amount is None:  # a percentage bonus: no amount to limit
        return None
    reason = bonus.amount_refusal(amount, overridden=amount != bonus.amount)
    if reason is not None:
        return reason
    since = day_start()
    if _exceeds(bonus.daily_cap_per_player, amount, since, player=player, bonus=bonus):
        return Reason.PLAYER_DAILY_CAP
    if bonus.daily_cap is not None:
        locked = Bonus.objects.select_for_update().get(pk=bonus.pk)
        if _exceeds(locked.daily_cap, amount, since, bonus=bonus):
            return Reason.BONUS_DAILY_CAP
    return _budget_refusal(assignment.currency or bonus.currency, amount, since)


def _budget_refusal(currency: str, amount: Decimal, since: datetime) -> str | None:
    if not currency:  # counted in spins or bets, not money
        return None
    budget = DailyGrantBudget.objects.select_for_update().filter(currency=currency).first()
    if budget is not None and _exceeds(budget.daily_limit, amount, since, currency=currency):
        return Reason.DAILY_BUDGET
    return None


def _exceeds(cap: Decimal | None, amount: Decimal, since: datetime, **filters: Any) -> bool:
    """Whether granting `amount` takes the day's sum of the matching grants over `cap`."""
    return cap is not None and granted_since(since, **filters) + amount > cap


def _limit_alert(item: AssignmentItem, bonus: Bonus, reason: str) -> None:
    """The alert line: a stable event name and reason code, ids only (no personal data)."""
    logger.warning(
        "bonus_limit_refused",
        extra={
            "event": "bonus_limit_refused",
            "reason": reason,
            "stage": "grant",
            "bonus": bonus.bonus_id,
            "assignment_id": item.assignment_id,
            "item_id": item.pk,
        },
    )


def _player_bonus_create(assignment: BonusAssignment, bonus: Bonus, player: Player) -> PlayerBonus:
    """Create the player's bonus and queue PEP's bonus-granted message (caller's transaction)."""
    now = timezone.now()
    amount = _grant_amount(assignment, bonus)
    days = bonus.expires_after_days
    player_bonus = PlayerBonus.objects.create(
        player=player,
        bonus=bonus,
        amount=amount,
        currency=assignment.currency or bonus.currency,
        wagering_required=(amount or 0) * bonus.wagering_requirement,
        source_request_id=assignment.request_id,
        granted_at=now,
        expires_at=now + timedelta(days=days) if days else None,
        status_changed_at=now,
    )
    messages.enqueue_bonus_granted(player_bonus)
    logger.info("bonus_granted player_bonus_id=%s bonus=%s", player_bonus.pk, bonus.bonus_id)
    return player_bonus


def assignment_sweep(*, limit: int = 100) -> int:
    """Process accepted assignments whose task never ran (lost on a crash or a broker outage).

    The grant pass already tried each of them once; one that raises again here is marked
    failed with its reason, and the sweep goes on with the rest.
    """
    cutoff = timezone.now() - timedelta(seconds=settings.BONUS_ASSIGNMENT_SWEEP_AFTER)
    stale = BonusAssignment.objects.filter(
        status=BonusAssignment.Status.ACCEPTED, received_at__lt=cutoff
    ).order_by("received_at")
    ids = list(stale.values_list("pk", flat=True)[:limit])
    for assignment_id in ids:
        _process_isolated(assignment_id)
    return len(ids)


def _process_isolated(assignment_id: int) -> None:
    """Process one assignment; if it raises, mark it failed so it cannot block the others.

    A database that is briefly unavailable or locked (OperationalError) is not the
    assignment's fault: it stays accepted for the next sweep. The savepoint keeps a caller's
    transaction usable after the error (outside one, each grant commits on its own).
    """
    atomic = transaction.atomic() if connection.in_atomic_block else nullcontext()
    try:
        with atomic:
            assignment_process(assignment_id=assignment_id)
    except OperationalError:
        logger.warning(
            "bonus_assignment_retry_later assignment_id=%s", assignment_id, exc_info=True
        )
    except Exception as exc:
        logger.exception("bonus_assignment_failed", extra={"assignment_id": assignment_id})
        BonusAssignment.objects.filter(
            pk=assignment_id, status=BonusAssignment.Status.ACCEPTED
        ).update(
            status=BonusAssignment.Status.FAILED,
            failure_reason=f"{type(exc).__name__}: {exc}"[:2000],
            processed_at=timezone.now(),
        )


def assignments_retry(*, assignment_ids: Iterable[int], actor_id: int | None) -> int:
    """Put failed assignments back as accepted; return how many were failed.

    For staff, once the cause is fixed: the sweep grants them within a minute, and players
    already decided stay decided. Rows not failed are left alone.
    """
    retried = BonusAssignment.objects.filter(
        pk__in=list(assignment_ids), status=BonusAssignment.Status.FAILED
    ).update(status=BonusAssignment.Status.ACCEPTED, failure_reason="", processed_at=None)
    logger.info("bonus_assignment_retried", extra={"count": retried, "user_id": actor_id})
    return retried
