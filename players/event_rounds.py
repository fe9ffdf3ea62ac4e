"""Casino rounds are idempotent per transaction id, not per message.

A round's message is keyed by its round id and the ids of the transactions it carries
(`game_round:<roundId>:<id>+<id>`), because PEP wants a round's BET and WIN together. An operator
that sends the BET alone and later the whole round (BET and WIN) must not make PEP count the BET
twice. So before a round is written, the transactions already accepted for that round are looked
up in `RoundTransaction` (round id, transaction id, fingerprint; unique per round and
transaction), which the same database transaction fills as it writes the outbox row:

- a transaction accepted before with the same content is not sent again (left out of the message);
- a transaction accepted before with other content makes the whole event a conflict (nothing is
  written);
- what is left goes out as its own round message with only the new transactions; when nothing
  is left, the event is a duplicate.

A `RoundTransaction` is deleted with its outbox row, so the window is the outbox's retention
(docs/ingestion.md, "Idempotency and conflicts").
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from django.db import connection

from events.messages import GameRoundInput, build_game_round
from events.models import OutboxMessage, RoundTransaction
from events.outbox import PepMessage
from pepbridge.pep import contract, wire

# Transaction id -> fingerprint of its row as PEP received it, per round id.
Accepted = dict[str, str]
_ROUND = contract.body_spec("game_round")  # where a built round keeps its transaction ids
_ROUNDS_PER_QUERY = 500  # bound parameters per IN list, well under SQLite's limit


class RoundConflict(Exception):
    """A transaction of the round was accepted before with other content."""


def round_prefix(round_id: str) -> str:
    """The start of every dedup key of this round's messages (events.messages.transactions)."""
    return f"game_round:{round_id}:"


def lock_rounds(round_ids: Iterable[str]) -> None:
    """Serialise writers of the same rounds until the end of the transaction.

    Two requests carrying overlapping transactions of one round would otherwise both find
    nothing and write two messages with different keys. PostgreSQL: a transaction-level
    advisory lock per round, taken in a fixed order so two batches cannot deadlock. SQLite
    needs none: its IMMEDIATE transactions already admit one writer at a time.
    """
    if connection.vendor != "postgresql":
        return
    keys = sorted({_lock_key(round_id) for round_id in round_ids})
    if keys:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k", [keys])


def _lock_key(round_id: str) -> int:
    digest = hashlib.blake2b(round_prefix(round_id).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def accepted_transactions(round_ids: Iterable[str]) -> dict[str, Accepted]:
    """Round id -> the transactions accepted for it, in one indexed query per 500 rounds."""
    wanted = sorted(set(round_ids))
    found: dict[str, Accepted] = {round_id: {} for round_id in wanted}
    for start in range(0, len(wanted), _ROUNDS_PER_QUERY):
        chunk = wanted[start : start + _ROUNDS_PER_QUERY]
        rows = RoundTransaction.objects.filter(round_id__in=chunk).values_list(
            "round_id", "transaction_id", "fingerprint"
        )
        for round_id, transaction_id, print_ in rows:
            found[round_id][transaction_id] = print_
    return found


def settle_round(
    round_: GameRoundInput, message: PepMessage, accepted: Accepted
) -> PepMessage | None:
    """The message with only the transactions not accepted before; None when nothing is new.

    Raises RoundConflict if a transaction was accepted with other content. On success the
    transactions of the returned message are added to `accepted` (a later item of the same
    batch sees them).
    """
    rows = _fingerprints(message)
    overlap = rows.keys() & accepted.keys()
    if any(rows[tx_id] != accepted[tx_id] for tx_id in overlap):
        raise RoundConflict(sorted(overlap))
    accepted.update(rows)
    if not overlap:
        return message
    fresh = tuple(tx for tx in round_.transactions if tx.transaction_id not in overlap)
    return build_game_round(replace(round_, transactions=fresh)) if fresh else None


def round_transactions(
    round_id: str, message: PepMessage, row: OutboxMessage
) -> list[RoundTransaction]:
    """The records of a round message just written to the outbox (to save with it)."""
    return [
        RoundTransaction(round_id=round_id, transaction_id=tx_id, fingerprint=print_, message=row)
        for tx_id, print_ in _fingerprints(message).items()
    ]


def record(transactions: Sequence[RoundTransaction]) -> None:
    """Save them; the unique pair is the backstop of lock_rounds (a race fails loudly)."""
    RoundTransaction.objects.bulk_create(transactions)


def _fingerprints(message: PepMessage) -> dict[str, str]:
    """Transaction id -> print of its row, from the built body (no decode: dumps is canonical)."""
    rows = message.body[_ROUND.wire("game_transaction_round")]
    tx_id = _ROUND.item("game_transaction_round").wire("transaction_id")
    return {str(row[tx_id]): _fingerprint(row) for row in rows}


def _fingerprint(row: dict[str, Any]) -> str:
    # The same bytes for the built row and for the row decoded from the outbox (sorted keys,
    # exact decimals), so the migration that filled the table from stored bodies agrees.
    return hashlib.sha256(wire.dumps(row)).hexdigest()
