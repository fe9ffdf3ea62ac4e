"""Casino rounds are idempotent per transaction id, not per message.

A round's message is keyed by its round id and the ids of the transactions it carries
(`game_round:<roundId>:<id>+<id>`), because PEP wants a round's BET and WIN together. An operator
that sends the BET alone and later the whole round (BET and WIN) must not make PEP count the BET
twice. So before a round is written, the transactions already accepted for that round are looked
up in the outbox:

- a transaction accepted before with the same content is not sent again (left out of the message);
- a transaction accepted before with other content makes the whole event a conflict (nothing is
  written);
- what is left goes out as its own round message with only the new transactions; when nothing
  is left, the event is a duplicate.

The outbox rows are the only record (no schema of its own), so the window is the outbox's
retention (docs/ingestion.md, "Idempotency and conflicts").
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from django.db import connection
from django.db.models import Q

from events.messages import GameRoundInput, build_game_round
from events.models import OutboxMessage
from events.outbox import PepMessage
from pepbridge.pep import wire

# Transaction id -> its row as PEP received it (decoded wire JSON), per round id.
Accepted = dict[str, dict[str, Any]]
_ROUNDS_PER_QUERY = 100  # keeps the OR of key ranges well under SQLite's expression depth


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
    """Round id -> the transactions the outbox holds for it, read from the stored bodies."""
    wanted = sorted(set(round_ids))
    found: dict[str, Accepted] = {round_id: {} for round_id in wanted}
    for start in range(0, len(wanted), _ROUNDS_PER_QUERY):
        chunk = wanted[start : start + _ROUNDS_PER_QUERY]
        query = Q()
        for round_id in chunk:
            query |= _key_starts_with(round_prefix(round_id))
        rows = OutboxMessage.objects.filter(query).values_list("dedup_key", "body")
        for key, body in rows:
            _collect(found, chunk, key, body)
    return found


def _key_starts_with(prefix: str) -> Q:
    # SQLite's LIKE ignores case and cannot use the unique index; a BINARY range is exact and
    # indexed. PostgreSQL's LIKE uses the varchar_pattern_ops index Django adds for unique=True.
    if connection.vendor == "sqlite":
        return Q(dedup_key__gte=prefix, dedup_key__lt=prefix[:-1] + ";")
    return Q(dedup_key__startswith=prefix)


def _collect(found: dict[str, Accepted], round_ids: list[str], key: str, body: str | None) -> None:
    """Record the rows of one stored message under its round (the key names them exactly)."""
    if body is None:
        return
    decoded = wire.loads(body)
    rows = decoded.get("gameTransactionRound", []) if isinstance(decoded, dict) else []
    ids = "+".join(str(row.get("transactionId")) for row in rows)
    for round_id in round_ids:
        # A round id may itself contain ':'; the full key tells "R" from "R:1" apart.
        if key == round_prefix(round_id) + ids:
            found[round_id].update({row["transactionId"]: row for row in rows})


def settle_round(
    round_: GameRoundInput, message: PepMessage, accepted: Accepted
) -> PepMessage | None:
    """The message with only the transactions not accepted before; None when nothing is new.

    Raises RoundConflict if a transaction was accepted with other content. On success the
    transactions of the returned message are added to `accepted` (a later item of the same
    batch sees them).
    """
    rows = _rows_of(message)
    overlap = rows.keys() & accepted.keys()
    if any(rows[tx_id] != accepted[tx_id] for tx_id in overlap):
        raise RoundConflict(sorted(overlap))
    accepted.update(rows)
    if not overlap:
        return message
    fresh = tuple(tx for tx in round_.transactions if tx.transaction_id not in overlap)
    return build_game_round(replace(round_, transactions=fresh)) if fresh else None


def _rows_of(message: PepMessage) -> dict[str, Mapping[str, Any]]:
    encoded = message.encoded_body or wire.dumps(message.body)
    return {row["transactionId"]: row for row in wire.loads(encoded)["gameTransactionRound"]}
