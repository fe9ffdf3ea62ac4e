"""django-q2 entry points for bonuses: each is one service call and nothing else."""

from __future__ import annotations

from bonuses import services


def assignment_process_pending_task() -> int:
    """Grant every accepted request (queued, debounced, when one is accepted)."""
    return services.assignment_process_pending()


def assignment_sweep_task() -> int:
    """Periodic: process accepted requests whose task was lost."""
    return services.assignment_sweep()


def assignment_prune_task() -> int:
    """Daily: forget assign-bonus requests older than BONUS_ASSIGNMENT_RETENTION_DAYS."""
    return services.assignment_prune()


def player_bonus_expire_task() -> int:
    """Every five minutes: expire granted or active bonuses whose `expires_at` has passed."""
    return services.player_bonus_expire_due()
