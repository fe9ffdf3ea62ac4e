"""Writes to player master data. Each change and the messages it causes share one transaction.

An operator whose platform is Django calls these directly, inside its own transaction; the
ingestion API and the JSON Lines loader call them too, so all three ways in apply the same rules.
Input dicts are keyed by Player field names (what `players.serializers.PlayerSerializer` gives as
validated data), with `consents` as a list of {channel, granted, changed_at}.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from events.messages.players import PROFILE_WIRE_NAMES
from events.outbox import PepMessage, enqueue
from events.services import outbox_redact_player
from players import messages, profile, validators
from players.models import (
    AccountStatus,
    ConsentChannel,
    MarketingConsent,
    MigrationChunk,
    MigrationError,
    Player,
)


class ChangeHook(Protocol):
    """`cause` names the way the data came in ("api:<client>", "loader:<file>"), or None."""

    def __call__(
        self, player: Player, changed: frozenset[str], *, cause: str | None = None
    ) -> None: ...


# Called inside the transaction of every change that is sent to PEP (not for `send=False`
# writes, whose players reach PEP through the bulk migration), with the wire names of what
# changed (profile names from events.messages.players.PROFILE_WIRE_NAMES, plus "tags",
# "marketingConsents", "kycStatus", "emailVerified", "phoneVerified"). Other apps append to it in
# their AppConfig.ready(); a hook that raises rolls the change back, so hooks must only record,
# never call out.
on_player_changed: list[ChangeHook] = []

logger = logging.getLogger(__name__)


class PlayerError(Exception):
    """Base of what a player write can refuse; `errors` maps API field name -> messages."""

    def __init__(self, message: str, errors: Mapping[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.errors = dict(errors or {})


class PlayerNotFound(PlayerError):
    pass


class PlayerErased(PlayerError):
    pass


class PlayerConflict(PlayerError):
    """The player exists with other values: a create is not an update in disguise."""


class PlayerInvalid(PlayerError):
    pass


@dataclass(frozen=True)
class PlayerChange:
    """What a write did: `changed` holds wire names; `created` False and nothing changed = no-op."""

    player: Player
    created: bool
    changed: frozenset[str]
    messages: tuple[PepMessage, ...] = ()


def camel(name: str) -> str:
    """API name of a Player field: first_name -> firstName, consents -> marketingConsents."""
    if name == "consents":
        return "marketingConsents"
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _clean(player: Player, *, exclude: Iterable[str] = ()) -> None:
    """Run the model's validators and constraints; errors come back under API field names."""
    try:
        player.full_clean(exclude=list(exclude))
    except ValidationError as exc:
        errors = {camel(k): [str(m) for m in v] for k, v in exc.message_dict.items()}
        raise PlayerInvalid("The player has invalid fields.", errors) from None


def _notify(player: Player, changed: frozenset[str], cause: str | None = None) -> None:
    for hook in on_player_changed:
        hook(player, changed, cause=cause)


def _enqueue_all(built: Iterable[PepMessage | None]) -> tuple[PepMessage, ...]:
    sent = tuple(message for message in built if message is not None)
    for message in sent:
        enqueue(message)
    return sent


@transaction.atomic
def player_create(
    *, data: Mapping[str, Any], send: bool = True, cause: str | None = None
) -> PlayerChange:
    """Register a player and write the registration (and full profile) messages to the outbox.

    Idempotent on `player_id`: the same data again changes nothing; other data for an existing
    player raises PlayerConflict (use player_update for changes). `send=False` stores without
    telling PEP (players that will reach PEP through the initial bulk load instead).
    """
    fields, consents = _split(data)
    existing = Player.objects.filter(player_id=fields["player_id"]).first()
    if existing is not None:
        return _same_or_conflict(existing, fields, consents)
    player = Player(**fields)
    _clean(player, exclude=["player_id"])
    try:
        with transaction.atomic():
            player.save(force_insert=True)
    except IntegrityError:
        # A concurrent create of the same player won the race: compare with what it stored.
        existing = Player.objects.get(player_id=fields["player_id"])
        return _same_or_conflict(existing, fields, consents)
    _set_consents(player, consents)
    sent = _enqueue_all(messages.registration(player)) if send else ()
    changed = frozenset(camel(name) for name in data)
    if send:
        _notify(player, changed, cause)
    return PlayerChange(player, True, changed, sent)


_WRITABLE = frozenset(
    f.name for f in Player._meta.concrete_fields if f.name not in ("id", "updated_at", "erased_at")
)


def _split(data: Mapping[str, Any]) -> tuple[dict[str, Any], list[Mapping[str, Any]]]:
    """Player fields and consents; an unknown key is an error, not silently ignored."""
    unknown = sorted(set(data) - _WRITABLE - {"consents"})
    if unknown:
        raise PlayerInvalid("Unknown player fields.", {k: ["Unknown field."] for k in unknown})
    fields = {key: value for key, value in data.items() if key != "consents"}
    if "tags" in fields:
        fields["tags"] = sorted(set(fields["tags"]))
    consents = list(data.get("consents") or [])
    _check_consents(consents)
    return fields, consents


def _check_consents(consents: Sequence[Mapping[str, Any]]) -> None:
    """Refuse a consent here, naming its field, rather than as a database or builder error later.

    The serializer checks the same for the API and the loader; a Python caller gets no
    serializer, so the service is where the rule holds for every way in.
    """
    errors: dict[str, list[str]] = {}
    seen: set[Any] = set()
    for index, item in enumerate(consents):
        for name, problem in _consent_problems(item, seen):
            errors.setdefault(f"marketingConsents.{index}.{name}", []).append(problem)
    if errors:
        raise PlayerInvalid("The player has invalid fields.", errors)


def _consent_problems(item: Any, seen: set[Any]) -> Iterator[tuple[str, str]]:
    if not isinstance(item, Mapping):
        yield "channel", "Each consent must be a mapping of channel, granted and changed_at."
        return
    channel = item.get("channel")
    if channel not in ConsentChannel.values:
        yield "channel", f"Must be one of: {', '.join(ConsentChannel.values)}."
    elif channel in seen:
        yield "channel", "Each channel may appear only once."
    seen.add(channel)
    if not isinstance(item.get("granted"), bool):
        yield "granted", "Must be true or false."
    problem = _moment_problem(item.get("changed_at"))
    if problem:
        yield "changedAt", problem


def _moment_problem(value: Any) -> str | None:
    """Why `value` is not a past, timezone-aware moment, or None."""
    if value is None:
        return "This field is required."
    if not isinstance(value, datetime):
        return "Must be a date and time."
    if timezone.is_naive(value):
        return "Include the time zone: a naive time is ambiguous."
    try:
        validators.validate_not_future(value)
    except ValidationError as exc:
        return exc.messages[0]
    return None


def _same_or_conflict(
    player: Player, fields: Mapping[str, Any], consents: Sequence[Mapping[str, Any]]
) -> PlayerChange:
    if player.erased_at is not None:
        raise PlayerErased(f"Player {player.player_id} was erased and cannot be registered again.")
    differing = [camel(name) for name, value in fields.items() if getattr(player, name) != value]
    if _consent_changes(player, consents):
        differing.append("marketingConsents")
    if differing:
        raise PlayerConflict(
            f"Player {player.player_id} exists with other values; send changes as an update.",
            {name: ["differs from the stored value"] for name in sorted(differing)},
        )
    return PlayerChange(player, False, frozenset())


def _consent_changes(
    player: Player, consents: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """The consents that differ from what is stored (granted flag or the time it changed)."""
    stored = {c.channel: (c.granted, c.changed_at) for c in player.consents.all()}
    return [
        item
        for item in consents
        if stored.get(item["channel"]) != (item["granted"], item["changed_at"])
    ]


def _consent_updates(
    player: Player, consents: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """The consents that change what is stored, leaving out those older than the stored one.

    Consent changes can arrive out of order (a retried request, a backfill after live
    traffic): one dated before what is stored is stale, so it is neither saved nor sent.
    """
    stored = {c.channel: c for c in player.consents.all()}
    return [item for item in consents if _newer(item, stored.get(item["channel"]))]


def _newer(item: Mapping[str, Any], current: MarketingConsent | None) -> bool:
    if current is None:
        return True
    if item["changed_at"] < current.changed_at:
        return False
    return (item["granted"], item["changed_at"]) != (current.granted, current.changed_at)


def _set_consents(player: Player, consents: Iterable[Mapping[str, Any]]) -> None:
    for item in consents:
        MarketingConsent.objects.update_or_create(
            player=player,
            channel=item["channel"],
            defaults={"granted": item["granted"], "changed_at": item["changed_at"]},
        )


@transaction.atomic
def player_update(
    *,
    player_id: str,
    data: Mapping[str, Any],
    occurred_at: datetime | None = None,
    send: bool = True,
    cause: str | None = None,
) -> PlayerChange:
    """Apply the given fields; only what really changed is saved and sent to PEP.

    Profile fields go out as one profile update with only the changed fields; consent,
    verification and tag changes go out as their own messages. Nothing changed: nothing sent.
    """
    player = _locked(player_id)
    fields, consents = _split(data)
    fields.pop("player_id", None)
    changed_fields = [name for name, value in fields.items() if getattr(player, name) != value]
    changed_consents = _consent_updates(player, consents)
    for name in changed_fields:
        setattr(player, name, fields[name])
    if changed_fields:
        _clean(player, exclude=["player_id"])
        player.save(update_fields=[*changed_fields, "updated_at"])
    _set_consents(player, changed_consents)
    when = occurred_at or timezone.now()
    built = messages.changes(player, changed_fields, bool(changed_consents), when)
    sent = _enqueue_all(built) if send else ()
    changed = frozenset(
        [PROFILE_WIRE_NAMES.get(name, camel(name)) for name in changed_fields]
        + (["marketingConsents"] if changed_consents else [])
    )
    if changed and send:
        _notify(player, changed, cause)
    return PlayerChange(player, False, changed, sent)


def _locked(player_id: str) -> Player:
    """The player row, locked for this transaction so concurrent updates diff correctly."""
    player = Player.objects.select_for_update().filter(player_id=player_id).first()
    if player is None:
        raise PlayerNotFound(f"No player with playerId {player_id!r}.")
    if player.erased_at is not None:
        raise PlayerErased(f"Player {player_id} was erased; their data cannot change.")
    return player


def player_upsert(
    *, data: Mapping[str, Any], send: bool = True, cause: str | None = None
) -> PlayerChange:
    """Create the player, or update it with the given fields if it exists (backfills, loaders)."""
    if Player.objects.filter(player_id=data["player_id"]).exists():
        return player_update(player_id=data["player_id"], data=data, send=send, cause=cause)
    return player_create(data=data, send=send, cause=cause)


@transaction.atomic
def player_erase(*, player_id: str) -> PlayerChange:
    """Erase a player's personal data (right to erasure) and tell PEP to delete the player.

    The row stays with its non-personal fields (id, country, currency, brand, status, KYC and
    responsible-gambling state) because bonus and delivery records regulation needs point at it.
    Consents become withdrawn, PEP's stored validation errors (which may echo personal values)
    are deleted, and the outbox rows already written with personal data are redacted, the
    unsent ones cancelled (events.services.outbox_redact_player). Erasing twice changes nothing
    the second time.

    A player whose stored id is not a safe path segment (a row written before ids were checked,
    e.g. "..") is erased here all the same, but PEP's delete is not queued: its URL cannot name
    that player. A warning (`player_erase_pep_not_told`, with the row's pk, not the id) records
    it for staff to tell PEP another way; the answer is the same (docs/security.md).
    """
    player = Player.objects.select_for_update().filter(player_id=player_id).first()
    if player is None:
        raise PlayerNotFound(f"No player with playerId {player_id!r}.")
    if player.erased_at is not None:
        return PlayerChange(player, False, frozenset())
    now = timezone.now()
    for name, blank in profile.PERSONAL_FIELDS.items():
        setattr(player, name, blank)
    player.account_status = AccountStatus.CLOSED
    player.erased_at = now
    player.save()
    player.consents.update(granted=False, changed_at=now)
    MigrationError.objects.filter(player=player).delete()
    _redact_chunk_errors(player)
    outbox_redact_player(player_id=player_id)
    sent = _enqueue_all([_delete_message(player, now)])
    changed = frozenset(camel(name) for name in profile.PERSONAL_FIELDS) | {"accountStatus"}
    _notify(player, changed)
    return PlayerChange(player, False, changed, sent)


def _delete_message(player: Player, when: datetime) -> PepMessage | None:
    """PEP's player delete, or None (logged) when the stored id cannot be a URL path segment."""
    if not _addressable(player):
        logger.warning(
            "player_erase_pep_not_told player_pk=%s reason=unsafe_player_id; erased locally, "
            "tell PEP another way",
            player.pk,
        )
        return None
    return messages.delete(player, when)


def _addressable(player: Player) -> bool:
    """Can PEP's URLs name this player? Not if the id predates the id check (e.g. "..")."""
    try:
        validators.validate_player_id(player.player_id)
    except ValidationError:
        return False
    return True


def _redact_chunk_errors(player: Player) -> None:
    """Redact PEP's error text on every migration chunk that carried `player` (it may echo them)."""
    chunks = MigrationChunk.objects.filter(first_pk__lte=player.pk, last_pk__gte=player.pk).exclude(
        last_error=""
    )
    for chunk in chunks:
        if chunk.last_error != (redacted := MigrationChunk.redacted_error(chunk.last_error)):
            chunk.last_error = redacted
            chunk.save(update_fields=["last_error"])


@transaction.atomic
def player_resend_fields(
    player: Player, wire_fields: Iterable[str], *, cause: str
) -> PepMessage | None:
    """Write a profile update carrying `wire_fields` (those the bridge has a value for).

    For reconciliation: PEP says it misses fields; the bridge sends what it holds. Returns the
    queued message, or None when the bridge holds none of them (or the player was erased, or
    has a stored id PEP's URLs cannot carry).
    `cause` (e.g. "reconciliation:<request id>") is logged with the message.
    """
    if player.erased_at is not None:
        return None
    if not _addressable(player):  # its URL cannot name it: nothing can be sent (was a 500)
        logger.warning("player_resend_skipped player_pk=%s reason=unsafe_player_id", player.pk)
        return None
    names = [profile.WIRE_TO_FIELD[w] for w in wire_fields if w in profile.WIRE_TO_FIELD]
    values = {k: v for k, v in profile.profile_values(player, names).items() if v is not None}
    if not values:
        return None
    message = messages.profile_update(player, values, timezone.now())
    enqueue(message)
    messages.log_resend(player, sorted(values), cause)
    return message
