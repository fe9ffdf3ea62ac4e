"""A player's bonus after the grant: staff moves, and the expiry of bonuses past `expires_at`.

PEP's contract documents no message for a bonus that expires, is forfeited or cancelled
(platform-api.md §5.4, [UNKNOWN]): these changes are recorded here only (status and
`status_changed_at`), and nothing is written to the outbox. See docs/contract.md, "Player bonus
lifecycle".
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from bonuses.models import PlayerBonus

logger = logging.getLogger(__name__)

Status = PlayerBonus.Status
# The statuses a bonus may expire from, read off the lifecycle (granted and active today).
EXPIRABLE = tuple(
    status for status, following in PlayerBonus.TRANSITIONS.items() if Status.EXPIRED in following
)


@dataclass(frozen=True)
class TransitionReport:
    """What a bulk move did: how many bonuses changed, how many the lifecycle did not allow."""

    changed: int
    refused: int


def player_bonus_transition(*, player_bonus: PlayerBonus, status: str) -> PlayerBonus:
    """Move a player's bonus along its lifecycle (granted → active → wagered → completed, or
    expired / forfeited / cancelled). A compare-and-set on the old status, so two staff actions
    racing cannot both apply; raises ValueError for a transition the lifecycle does not allow.
    """
    if not player_bonus.can_transition_to(status):
        raise ValueError(f"a {player_bonus.status} bonus cannot become {status}")
    changed = PlayerBonus.objects.filter(pk=player_bonus.pk, status=player_bonus.status).update(
        status=status, status_changed_at=timezone.now()
    )
    if changed != 1:
        raise ValueError("the bonus changed meanwhile; reload it and try again")
    player_bonus.refresh_from_db()
    return player_bonus


def player_bonuses_transition(
    *, player_bonuses: Iterable[PlayerBonus], status: str
) -> TransitionReport:
    """Move each bonus to `status` where its lifecycle allows it; count the others, skip them.

    One compare-and-set per row (player_bonus_transition): a bonus that changed since it was
    read is counted as refused rather than overwritten.
    """
    changed = refused = 0
    for player_bonus in player_bonuses:
        try:
            player_bonus_transition(player_bonus=player_bonus, status=status)
        except ValueError:
            refused += 1
        else:
            changed += 1
    logger.info("player_bonus_transition status=%s changed=%s refused=%s", status, changed, refused)
    return TransitionReport(changed=changed, refused=refused)


def player_bonus_expire_due(*, batch_size: int = 500, max_batches: int = 100) -> int:
    """Expire every granted or active bonus whose `expires_at` has passed; return how many.

    Batches of conditional UPDATEs: each re-checks status and `expires_at`, so a bonus that a
    worker or a staff member moved on meanwhile (wagered, cancelled) is left alone, and a
    second run finds nothing to do. `max_batches` bounds one run; the schedule runs again.
    """
    now, total = timezone.now(), 0
    for _ in range(max_batches):
        ids = list(_due(now).order_by("expires_at").values_list("pk", flat=True)[:batch_size])
        if not ids:
            break
        total += _due(now).filter(pk__in=ids).update(status=Status.EXPIRED, status_changed_at=now)
    if total:
        logger.info("player_bonus_expired count=%s", total)
    return total


def _due(now: datetime) -> QuerySet[PlayerBonus]:
    # Served by the index playerbonus_expiry_due (status, expires_at).
    return PlayerBonus.objects.filter(status__in=EXPIRABLE, expires_at__lte=now)
