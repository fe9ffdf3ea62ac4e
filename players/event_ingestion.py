"""Events from the operator's platform into the outbox: one at a time, or batches of up to 1,000.

The same functions serve the three ways in: an operator on Django calls `record_event` inside its
own transaction, the ingestion API and the JSON Lines loader call `ingest_events`. An event is
validated by the serializers in `players.event_kinds`, built into PEP's wire format by
`events.messages`, and written with `events.outbox.enqueue_many`, which owns idempotency: the same
operator id twice is accepted once; the same id with another body is a conflict. Casino rounds
are first settled per transaction id (`players.event_rounds`), so a round resent with its WIN
sends only the WIN.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from rest_framework import serializers

from events.messages import GameRoundInput, MessageRejected, build_game_round
from events.models import OutboxMessage, RoundTransaction
from events.outbox import ConflictingMessage, DuplicateMessage, Outcome, PepMessage, enqueue_many
from players import event_rounds
from players.event_kinds import EVENT_KINDS, flatten_errors
from players.models import Player
from players.results import ACCEPTED, CONFLICT, DUPLICATE, REJECTED, ItemResult

MAX_BATCH_ITEMS = 1_000


class EventRejected(ValueError):
    """The event is invalid; `errors` maps field path -> messages. Nothing was written."""

    def __init__(self, errors: Mapping[str, list[str]], message: str = "Invalid event.") -> None:
        super().__init__(message)
        self.errors = dict(errors)


class EventConflict(Exception):
    """An event with this id was already accepted with a different body. Nothing was written."""


def record_event(data: Mapping[str, Any]) -> ItemResult:
    """Validate one event and write its PEP message in the caller's transaction.

    Returns an `accepted` or `duplicate` result; raises EventRejected (field errors) or
    EventConflict. Opens a transaction if the caller has none.
    """
    # No savepoint: the outbox insert, the only write, skips a taken key (ON CONFLICT DO
    # NOTHING) instead of failing, and refusals are raised after the block, so the caller's
    # transaction is never doomed.
    with transaction.atomic(savepoint=False):
        result = _ingest_one(data, _player_states([data]))
    if result.status == REJECTED:
        raise EventRejected(result.errors, result.message or "Invalid event.")
    if result.status == CONFLICT:
        raise EventConflict(result.message)
    return result


def ingest_events(items: Sequence[Mapping[str, Any]]) -> list[ItemResult]:
    """Validate and write each event; one result per item, in order.

    One transaction for the batch. Each item is one outbox row, so an item is written whole or
    not at all, and invalid items never stop the valid ones. The valid rows go in with one
    multi-row INSERT (see `_write_batch`): 1,000 savepoints would cost more than the work.
    """
    if len(items) > MAX_BATCH_ITEMS:
        raise EventRejected(
            {"events": [f"A batch holds at most {MAX_BATCH_ITEMS:,} events; got {len(items):,}."]}
        )
    with transaction.atomic():
        players = _player_states(items)
        prepared = _settle_rounds([_prepare(item, players) for item in items])
        return _write_batch(prepared)


def _player_states(items: Sequence[Mapping[str, Any]]) -> dict[str, bool]:
    """playerId -> erased? for the batch's players, in one query (unknown ids are absent)."""
    # Only strings go in the set: a playerId sent as an object is unhashable (it was a 500);
    # the event's own validation names it.
    given = (item.get("playerId") for item in items if isinstance(item, Mapping))
    wanted = sorted({pid for pid in given if isinstance(pid, str)})
    if not wanted:
        return {}
    # Plain SQL: compiling the ORM query costs ~130 us, several times the query itself, on the
    # path of every single event (record_event). Names come from the model; ids are bound.
    quote = connection.ops.quote_name
    table, key = quote(Player._meta.db_table), quote(Player._meta.get_field("player_id").column)
    erased = quote(Player._meta.get_field("erased_at").column)
    marks = ", ".join(["%s"] * len(wanted))
    sql = f"SELECT {key}, {erased} IS NOT NULL FROM {table} WHERE {key} IN ({marks})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, wanted)
        return {player_id: bool(erased) for player_id, erased in cursor.fetchall()}


@dataclass(frozen=True)
class Prepared:
    """A valid event turned into its PEP message (None: nothing to send), not yet written."""

    key: str | None
    message: PepMessage | None
    round: GameRoundInput | None = None  # casino rounds: settled per transaction before writing
    note: str | None = None


def _prepare(item: Any, players: Mapping[str, bool]) -> Prepared | ItemResult:
    """Validate one event and build its message; an ItemResult when it is refused."""
    if not isinstance(item, Mapping):
        return ItemResult(REJECTED, errors={"event": ["Each event must be a JSON object."]})
    kind = EVENT_KINDS.get(item.get("type"))  # type: ignore[arg-type]
    if kind is None:
        choices = ", ".join(sorted(EVENT_KINDS))
        return ItemResult(REJECTED, errors={"type": [f"Must be one of: {choices}."]})
    try:
        data = validator(kind.serializer).run_validation(item)
    except serializers.ValidationError as exc:
        return ItemResult(REJECTED, errors=flatten_errors(exc.detail))
    key = kind.key(data)
    player_error = _player_error(data.get("player_id"), players)
    if player_error:
        return ItemResult(REJECTED, key=key, errors={"playerId": [player_error]})
    try:
        if kind.round_input is not None:
            round_ = kind.round_input(data)
            return Prepared(key, build_game_round(round_), round=round_)
        assert kind.build is not None  # noqa: S101  (every kind has one of the two: a test says so)
        return Prepared(key, kind.build(data))
    except MessageRejected as exc:
        return ItemResult(REJECTED, key=key, errors=kind.input_names(exc.field_errors))


def _player_error(player_id: str | None, players: Mapping[str, bool]) -> str | None:
    if player_id is None:
        return None
    if player_id not in players:
        return "Unknown player: send the player (POST /ingest/v1/players) before their events."
    if players[player_id]:
        return "This player was erased; their events are not accepted."
    return None


_NOT_SENT = "Nothing for PEP in this event; not sent."
_DUPLICATE = "Already accepted; not sent again."
_CONFLICT = "An event with this id was already accepted with different content."
_PARTLY_SENT = "Transactions {} were accepted before; only the new ones are sent."
_TX_CONFLICT = "Transactions {} were already accepted with different content."


def _ingest_one(item: Any, players: Mapping[str, bool]) -> ItemResult:
    prepared = _settle_rounds([_prepare(item, players)])[0]
    if isinstance(prepared, ItemResult):
        return prepared
    return _write_one(prepared)


def _settle_rounds(prepared: list[Prepared | ItemResult]) -> list[Prepared | ItemResult]:
    """Leave out of each casino round the transactions the outbox already holds for it.

    Idempotency is on the operator's transaction ids (players.event_rounds): a round resent
    with its WIN sends only the WIN; a transaction resent with other content is a conflict.
    """
    rounds = [item for item in prepared if isinstance(item, Prepared) and item.round]
    if not rounds:
        return prepared
    round_ids = [item.round.round_id for item in rounds if item.round]
    event_rounds.lock_rounds(round_ids)
    accepted = event_rounds.accepted_transactions(round_ids)
    return [_settle(item, accepted) for item in prepared]


def _settle(
    item: Prepared | ItemResult, accepted: dict[str, event_rounds.Accepted]
) -> Prepared | ItemResult:
    if isinstance(item, ItemResult) or item.round is None or item.message is None:
        return item
    known = accepted[item.round.round_id]
    before = set(known)
    try:
        message = event_rounds.settle_round(item.round, item.message, known)
    except event_rounds.RoundConflict as exc:
        return ItemResult(CONFLICT, key=item.key, message=_TX_CONFLICT.format(_ids(exc.args[0])))
    if message is None:
        return ItemResult(DUPLICATE, key=item.key, message=_DUPLICATE)
    if message is item.message:
        return item
    overlap = sorted(before & set(_transaction_ids(item.round)))
    return Prepared(item.key, message, round=item.round, note=_PARTLY_SENT.format(_ids(overlap)))


def _transaction_ids(round_: GameRoundInput) -> list[str]:
    return [tx.transaction_id for tx in round_.transactions]


def _ids(ids: list[str]) -> str:
    return ", ".join(ids)


def _write_one(prepared: Prepared) -> ItemResult:
    if prepared.message is None:
        return _result(prepared, None)
    outcome = enqueue_many([prepared.message])[0]
    event_rounds.record(_round_transactions(prepared, outcome))
    return _result(prepared, outcome)


def _write_batch(prepared: list[Prepared | ItemResult]) -> list[ItemResult]:
    """Write the batch's messages with the outbox's idempotency rules, in one statement.

    enqueue_many() gives the same outcomes as enqueue() per item (duplicate = same dedup key
    and fingerprint, conflict = same key, other fingerprint, including between items of this
    batch) with one multi-row INSERT and no savepoint per item.
    """
    sendable = {
        index: item.message
        for index, item in enumerate(prepared)
        if isinstance(item, Prepared) and item.message is not None
    }
    outcomes = dict(zip(sendable, enqueue_many(list(sendable.values())), strict=True))
    event_rounds.record(
        [tx for i, outcome in outcomes.items() for tx in _round_transactions(prepared[i], outcome)]
    )
    return [_result(item, outcomes.get(index)) for index, item in enumerate(prepared)]


def _round_transactions(item: Prepared | ItemResult, outcome: Outcome) -> list[RoundTransaction]:
    """A casino round's transactions, when its message was written now (not a duplicate)."""
    if not isinstance(item, Prepared) or item.round is None or item.message is None:
        return []
    if not isinstance(outcome, OutboxMessage):
        return []
    return event_rounds.round_transactions(item.round.round_id, item.message, outcome)


def _result(item: Prepared | ItemResult, outcome: Outcome | None) -> ItemResult:
    if isinstance(item, ItemResult):
        return item
    if outcome is None:
        return ItemResult(ACCEPTED, key=item.key, message=_NOT_SENT)
    if isinstance(outcome, DuplicateMessage):
        return ItemResult(DUPLICATE, key=item.key, message=_DUPLICATE)
    if isinstance(outcome, ConflictingMessage):
        return ItemResult(CONFLICT, key=item.key, message=_CONFLICT)
    return ItemResult(ACCEPTED, key=item.key, message=item.note or "")


def validator(serializer_class: type[serializers.Serializer]) -> serializers.Serializer:
    """One serializer instance per class and thread, reused for every item.

    Building a DRF serializer deep-copies all its fields; reusing one and calling
    run_validation() (which keeps no state between calls) makes a batch several times faster.
    """
    cache: dict[type, serializers.Serializer] = _local.__dict__.setdefault("serializers", {})
    if serializer_class not in cache:
        cache[serializer_class] = serializer_class()
    return cache[serializer_class]


_local = threading.local()
