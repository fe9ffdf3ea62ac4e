"""Reads of the webhook inbox shared by the admin pages."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from pepbridge.backoffice.admin_tools import local_time
from webhooks.models import Fulfilment, LoyaltySnapshot, TokenBalance


@dataclass(frozen=True)
class Loyalty:
    snapshot: LoyaltySnapshot | None
    balances: list[TokenBalance]


def loyalty_of(player_ref: str) -> Loyalty:
    """The player's level, rank, XP and token balances as PEP last told us."""
    snapshot = LoyaltySnapshot.objects.filter(player_ref=player_ref).first()
    balances = list(TokenBalance.objects.filter(player_ref=player_ref).order_by("currency"))
    return Loyalty(snapshot, balances)


def _plain(number: Decimal) -> str:
    """900 rather than 9E+2 or 900.0000."""
    return f"{number.normalize():f}"


def loyalty_lines(player_ref: str) -> list[str]:
    """The loyalty snapshot and balances as lines for the player's admin page."""
    loyalty = loyalty_of(player_ref)
    lines = []
    snap = loyalty.snapshot
    if snap is not None:
        times = [moment for moment in (snap.level_at, snap.rank_at, snap.xp_at) if moment]
        lines.append(
            f"level {snap.level if snap.level is not None else '-'} · rank {snap.rank or '-'}"
            f" · XP {_plain(snap.xp) if snap.xp is not None else '-'}"
            f" (as of {local_time(max(times)) if times else '-'})"
        )
    lines += [
        f"{_plain(b.balance)} {b.currency} (as of {local_time(b.as_of)})" for b in loyalty.balances
    ]
    return lines


def fulfilments_waiting() -> int:
    """How many purchases wait for a product mapping (the "to fulfil" list)."""
    return Fulfilment.objects.filter(status=Fulfilment.Status.PENDING).count()
