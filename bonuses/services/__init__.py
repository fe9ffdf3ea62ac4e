"""Writes for bonuses, by sub-domain; import from here.

- catalogue: `bonus_create`, `bonus_update`, `bonus_retire` (each pushes the offer to PEP).
- assignments: `assignment_accept` stores PEP's assign-bonus request once per (sender,
  requestId) and queues a grant pass; `assignment_reject` records a request answered 400;
  `assignment_prune` forgets old requests.
- grants: `assignment_process` / `assignment_process_pending` / `assignment_sweep` decide each
  player (grant + bonus-granted message in one transaction, or a recorded refusal).
  `assignments_retry` puts failed ones back (staff).
- limits: `daily_budget_set` sets the instance-wide daily budget per currency (staff).
- lifecycle: `player_bonus_transition` moves a player's bonus along its lifecycle,
  `player_bonuses_transition` moves many (staff actions), `player_bonus_expire_due` expires
  bonuses past `expires_at` (scheduled).
"""

from bonuses.services.assignments import (
    KICK_KEY,
    AcceptResult,
    AssignmentConflictError,
    AssignmentInvalid,
    AssignRequest,
    assignment_accept,
    assignment_prune,
    assignment_reject,
    request_fingerprint,
)
from bonuses.services.catalogue import bonus_create, bonus_retire, bonus_update
from bonuses.services.grants import (
    assignment_process,
    assignment_process_pending,
    assignment_sweep,
    assignments_retry,
)
from bonuses.services.lifecycle import (
    TransitionReport,
    player_bonus_expire_due,
    player_bonus_transition,
    player_bonuses_transition,
)
from bonuses.services.limits import daily_budget_set

__all__ = [
    "KICK_KEY",
    "AcceptResult",
    "AssignRequest",
    "AssignmentConflictError",
    "AssignmentInvalid",
    "TransitionReport",
    "assignment_accept",
    "assignment_process",
    "assignment_process_pending",
    "assignment_prune",
    "assignment_reject",
    "assignment_sweep",
    "assignments_retry",
    "bonus_create",
    "bonus_retire",
    "bonus_update",
    "daily_budget_set",
    "player_bonus_expire_due",
    "player_bonus_transition",
    "player_bonuses_transition",
    "request_fingerprint",
]
