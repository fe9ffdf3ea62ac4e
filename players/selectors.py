"""Reads of player master data shared by the API, the loaders, reconciliation and the admin."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django.db.models import QuerySet, Sum

from players import profile
from players.models import MigrationChunk, MigrationRun, Player


def player_get(player_id: str) -> Player | None:
    """One player with their consents, or None."""
    return Player.objects.prefetch_related("consents").filter(player_id=player_id).first()


def player_field_values(player: Player, wire_fields: Iterable[str]) -> dict[str, Any]:
    """Of PEP's profile fields `wire_fields`, those the bridge holds a value for, by wire name.

    Unknown wire names and fields with no value (blank, unset) are left out, so the caller can
    tell "we can re-send this" from "we do not have it either". Erased players hold nothing.
    """
    if player.erased_at is not None:
        return {}
    names = [profile.WIRE_TO_FIELD[w] for w in wire_fields if w in profile.WIRE_TO_FIELD]
    values = profile.profile_values(player, names)
    return {wire: value for wire, value in values.items() if value is not None}


def players_for_migration(filters: Mapping[str, Any]) -> QuerySet[Player]:
    """The players an initial load sends, in primary-key order (chunks are pk ranges).

    Filters (all optional): brand_id, country, account_status, registered_since (ISO datetime),
    player_ids (list). Erased players are never sent.
    """
    queryset = Player.objects.filter(erased_at__isnull=True)
    for name in ("brand_id", "country", "account_status"):
        if filters.get(name):
            queryset = queryset.filter(**{name: filters[name]})
    if filters.get("registered_since"):
        since = datetime.fromisoformat(filters["registered_since"])
        queryset = queryset.filter(registration_date__gte=since)
    if filters.get("player_ids"):
        queryset = queryset.filter(player_id__in=list(filters["player_ids"]))
    return queryset.order_by("pk")


def migration_players_confirmed(run: MigrationRun) -> int:
    """How many players the run's chunks PEP accepted carried (where a resumed progress starts)."""
    accepted = run.chunks.filter(status=MigrationChunk.Status.ACCEPTED)
    return accepted.aggregate(total=Sum("player_count"))["total"] or 0


def players_in_pk_range(first_pk: int, last_pk: int) -> QuerySet[Player]:
    """The players in a chunk's primary-key range that are not erased, with their consents."""
    queryset = Player.objects.filter(pk__gte=first_pk, pk__lte=last_pk, erased_at__isnull=True)
    return queryset.prefetch_related("consents").order_by("pk")
