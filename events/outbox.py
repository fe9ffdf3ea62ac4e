"""The enqueue API: every message to PEP starts as an outbox row in the caller's transaction."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connections, models, transaction
from django.utils import timezone

from events import lanes
from events.kick import request_delivery
from events.models import OutboxMessage
from pepbridge.pep import wire

METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})


@dataclass(frozen=True)
class PepMessage:
    """What a builder produces: one request to PEP, not yet sent."""

    message_type: str  # key from pepbridge.pep.contract (e.g. "game_round")
    method: str  # "POST", "PATCH", "PUT", "DELETE"
    path: str  # already filled, e.g. "/api/players-data/v1/players/p-1"
    body: Any  # JSON-able payload (Decimal, aware datetimes ok) or None
    player_id: str | None  # ordering key: a player's messages go out in order
    dedup_key: str | None = None  # e.g. "money:<transactionId>"; unique across the outbox
    occurred_at: datetime | None = None  # when it happened at the operator (ordering tiebreak)
    # The target: None for PEP, else an operator webhook subscription (events.forwarding); the
    # row then goes to the subscription's URL, signed, and `path` is "/".
    subscription_id: int | None = None
    # wire.dumps(body) when the builder already made it (to check it against the contract), so
    # the body is encoded once. Not an init field: dataclasses.replace() with another body
    # cannot carry stale bytes over.
    encoded_body: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def with_encoded_body(self, encoded: bytes) -> PepMessage:
        """A copy carrying `encoded`, which must be exactly wire.dumps(self.body)."""
        copy = replace(self)
        object.__setattr__(copy, "encoded_body", encoded)
        return copy


class TransactionRequired(RuntimeError):
    """enqueue() was called outside a transaction: the row could outlive the change it reports."""


class DuplicateMessage(Exception):
    """The dedup_key is already in the outbox with the same request: nothing new was written."""

    def __init__(self, existing: OutboxMessage) -> None:
        super().__init__(f"{existing.dedup_key} is already queued as #{existing.pk}")
        self.existing = existing


class ConflictingMessage(Exception):
    """The dedup_key is already in the outbox with a different request: refuse the new one."""

    def __init__(self, existing: OutboxMessage) -> None:
        super().__init__(f"{existing.dedup_key} is queued as #{existing.pk} with another request")
        self.existing = existing


def fingerprint(method: str, path: str, body: bytes | None) -> str:
    """sha256 of the exact request, so a repeat can be told from a conflicting reuse of a key."""
    digest = hashlib.sha256()
    digest.update(method.encode() + b" " + path.encode() + b"\n")
    digest.update(b"-" if body is None else b"+" + body)
    return digest.hexdigest()


def enqueue(message: PepMessage) -> OutboxMessage:
    """Insert the outbox row in the caller's transaction and schedule delivery on commit.

    Requires an open transaction (wrap the business change and this call in
    `transaction.atomic()`), so the row commits or rolls back with the change it reports. The
    body is encoded once with pepbridge.pep.wire.dumps (or taken as the builder encoded it) and
    never re-encoded. A repeated dedup_key raises DuplicateMessage (same request) or
    ConflictingMessage (another request); the caller's transaction stays usable either way.
    """
    outcome = enqueue_many([message])[0]
    if isinstance(outcome, DuplicateMessage | ConflictingMessage):
        raise outcome
    return outcome


Outcome = OutboxMessage | DuplicateMessage | ConflictingMessage


def enqueue_many(messages: Sequence[PepMessage]) -> list[Outcome]:
    """Insert rows for `messages` as enqueue() would, one outcome per message, in order.

    An outcome is the row written, or the DuplicateMessage / ConflictingMessage that enqueue()
    would have raised (also between messages of this call: the first copy of a key wins). The
    rows go in with one multi-row INSERT (per chunk on SQLite) and no savepoint: a dedup_key
    already taken, even by a concurrent transaction, is skipped by ON CONFLICT DO NOTHING and
    then read back, so the caller's transaction is never doomed by a repeat.
    """
    if not transaction.get_connection().in_atomic_block:
        raise TransactionRequired("enqueue() must run inside transaction.atomic()")
    rows = [_build_row(message) for message in messages]
    first: dict[str, OutboxMessage] = {}
    fresh = [
        row for row in rows if row.dedup_key is None or first.setdefault(row.dedup_key, row) is row
    ]
    _insert_skipping_taken_keys(fresh)
    taken = _rows_by_key([row.dedup_key for row in fresh if row.pk is None])
    if len(taken) < len(fresh) - sum(row.pk is not None for row in fresh):
        # Skipped for a key whose row vanished before we read it (pruned meanwhile): rare,
        # and a retry of the caller's transaction will write it.
        raise IntegrityError("an outbox dedup_key is taken but its row is not visible; retry")
    written = [row for row in fresh if row.pk is not None]
    if written:
        # Same transaction: a committed pending row always has its lane.
        lanes.touch((row.lane for row in written), due=min(r.next_attempt_at for r in written))
        transaction.on_commit(request_delivery)
    return [_outcome(row, first, taken) for row in rows]


def _outcome(
    row: OutboxMessage, first: dict[str, OutboxMessage], taken: dict[str, OutboxMessage]
) -> Outcome:
    if row.pk is not None or row.dedup_key is None:
        return row
    holder = taken.get(row.dedup_key) or first[row.dedup_key]
    if holder.fingerprint == row.fingerprint:
        return DuplicateMessage(holder)
    return ConflictingMessage(holder)


def _build_row(message: PepMessage) -> OutboxMessage:
    method = message.method.upper()
    if method not in METHODS:
        raise ValueError(f"unsupported method {message.method!r}")
    if not message.path.startswith("/"):
        raise ValueError(f"path must start with '/', got {message.path!r}")
    body = _body_bytes(message)
    occurred_at = message.occurred_at
    if occurred_at is not None and timezone.is_naive(occurred_at):
        raise ValueError("occurred_at must be timezone-aware")
    now = timezone.now()
    return OutboxMessage(
        message_type=message.message_type,
        method=method,
        path=message.path,
        body=None if body is None else body.decode(),
        fingerprint=fingerprint(method, message.path, body),
        dedup_key=message.dedup_key,
        player_id=message.player_id,
        subscription_id=message.subscription_id,
        lane=lanes.lane_key(message.player_id, message.subscription_id),
        occurred_at=occurred_at or now,
        created_at=now,
        next_attempt_at=now,
    )


def _body_bytes(message: PepMessage) -> bytes | None:
    if message.body is None:
        return None
    if message.encoded_body is not None:
        return message.encoded_body
    return wire.dumps(message.body)


_INSERT_FIELDS = [field for field in OutboxMessage._meta.concrete_fields if not field.primary_key]


def _insert_skipping_taken_keys(rows: list[OutboxMessage]) -> None:
    """INSERT rows, leaving out those whose dedup_key is taken; sets pk on the rows written.

    Raw SQL because the ORM cannot say ON CONFLICT DO NOTHING *and* return the ids of the rows
    it did write. Both backends (PostgreSQL, SQLite >= 3.35) support the statement; the keys of
    `rows` must be distinct.
    """
    if not rows:
        return
    connection = transaction.get_connection()
    size = max(connection.ops.bulk_batch_size(_INSERT_FIELDS, rows), 1)
    for start in range(0, len(rows), size):
        _insert_chunk(connection, rows[start : start + size])


def _insert_chunk(connection: Any, rows: list[OutboxMessage]) -> None:
    sql = _insert_sql(connection.alias, len(rows))
    params = [value for row in rows for value in _db_values(row, connection)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        returned = cursor.fetchall()
    _assign_ids(rows, returned, connection.alias)


@functools.lru_cache(maxsize=32)
def _insert_sql(alias: str, count: int) -> str:
    quote = connections[alias].ops.quote_name
    table = quote(OutboxMessage._meta.db_table)
    columns = ", ".join(quote(field.column) for field in _INSERT_FIELDS)
    one_row = "(" + ", ".join(["%s"] * len(_INSERT_FIELDS)) + ")"
    values = ", ".join([one_row] * count)
    key, pk = quote("dedup_key"), quote("id")
    # Only names from the model are interpolated; every value is a bound parameter.
    sql = f"INSERT INTO {table} ({columns}) VALUES {values} ON CONFLICT ({key}) DO NOTHING"  # noqa: S608
    return sql + f" RETURNING {pk}, {key}"


# Per column: its attribute, whether a str/int/None value goes to the driver as it is (what the
# field's get_db_prep_save would return anyway), whether it is a datetime column. Any other
# value takes the field's own conversion; the shortcut saves ~40 us a row on the hot path.
_COLUMNS = [
    (
        field,
        field.attname,
        isinstance(field, models.CharField | models.TextField | models.IntegerField),
        isinstance(field, models.DateTimeField),
    )
    for field in _INSERT_FIELDS
]


def _db_values(row: OutboxMessage, connection: Any) -> list[Any]:
    adapt_datetime = connection.ops.adapt_datetimefield_value
    values = row.__dict__
    out = []
    for column, attname, plain, moment in _COLUMNS:
        value = values[attname]
        if value is None or (plain and type(value) in (str, int)):
            out.append(value)
        elif moment and type(value) is datetime and value.utcoffset() is not None:
            out.append(adapt_datetime(value))
        else:
            out.append(column.get_db_prep_save(value, connection))
    return out


def _assign_ids(
    rows: list[OutboxMessage], returned: list[tuple[int, str | None]], alias: str
) -> None:
    # Keyed rows are matched by key; rows without a key are never skipped, and both backends
    # return rows in VALUES order (what the ORM's bulk_create relies on too).
    by_key = {key: pk for pk, key in returned if key is not None}
    unkeyed = iter(pk for pk, key in returned if key is None)
    for row in rows:
        pk = next(unkeyed) if row.dedup_key is None else by_key.get(row.dedup_key)
        if pk is not None:
            row.pk = pk
            row._state.adding = False
            row._state.db = alias


def _rows_by_key(keys: list[str | None]) -> dict[str, OutboxMessage]:
    wanted = [key for key in keys if key is not None]
    if not wanted:
        return {}
    return {row.dedup_key: row for row in OutboxMessage.objects.filter(dedup_key__in=wanted)}  # type: ignore[misc]
