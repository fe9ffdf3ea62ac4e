"""The endpoint table: method, path, success status and body of each message type, and paths.

Paths PEP has not published can be overridden with `PEP_PATH_<KEY>` (settings.PEP_PATHS), so
fixing one needs no release.
"""

from __future__ import annotations

import re
from dataclasses import replace
from urllib.parse import quote, unquote

from django.conf import settings

from pepbridge.pep.contract import bodies
from pepbridge.pep.contract.spec import Endpoint, Spec

_PARAM = re.compile(r"\{(\w+)\}")


_PLAYERS = "/api/players-data/v1/players"
_RX_PLAYERS = "/rx-api/players-data/v1"
_OFFER = "/rx-api/bonus-offer/v1/offer/{bonusOfferId}"

_ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("token", "POST", "/api/oauth/v1/token", 200, bodies.TOKEN, "PEER", auth=False),
    Endpoint(
        "game_round",
        "POST",
        "/rx-api/transactions/v1/game-transaction-round",
        202,
        bodies.GAME_ROUND,
        "DOC",
    ),
    Endpoint(
        "sport_transaction",
        "POST",
        "/rx-api/transactions/v1/sport-transaction",
        202,
        bodies.SPORT_TRANSACTION,
        "PEER",
    ),
    Endpoint(
        "money_transaction",
        "POST",
        "/rx-api/transactions/v1/money-transaction",
        202,
        bodies.MONEY_TRANSACTION,
        "DOC",
    ),
    Endpoint(
        "bonus_granted",
        "POST",
        "/rx-api/transactions/v1/bonus-granted",
        202,
        bodies.BONUS_GRANTED,
        "DOC",
    ),
    Endpoint(
        "balance_update",
        "POST",
        "/rx-api/transactions/v1/balance-update",
        202,
        bodies.BALANCE_UPDATE,
        "DOC",
    ),
    Endpoint(
        "player_registration",
        "POST",
        f"{_RX_PLAYERS}/registration",
        202,
        bodies.REGISTRATION,
        "PEER",
    ),
    Endpoint("player_login", "POST", f"{_RX_PLAYERS}/login", 202, bodies.PLAYER_EVENT, "PEER"),
    Endpoint("player_logout", "POST", f"{_RX_PLAYERS}/logout", 202, bodies.PLAYER_EVENT, "PEER"),
    Endpoint("player_update", "PATCH", _PLAYERS + "/{playerId}", 200, bodies.PLAYER_PATCH, "PEER"),
    Endpoint("player_create", "POST", _PLAYERS, 201, bodies.PLAYER_RECORD, "INF"),
    Endpoint("player_delete", "DELETE", _PLAYERS + "/{playerId}", 204, None, "INF"),
    Endpoint("player_tags", "PATCH", f"{_RX_PLAYERS}/tags/upsert", 202, bodies.TAGS, "DOC"),
    Endpoint(
        "player_marketing_preferences",
        "POST",
        f"{_RX_PLAYERS}/marketing-preferences",
        202,
        bodies.MARKETING_PREFERENCES,
        "INF",
    ),
    Endpoint(
        "player_verification",
        "POST",
        f"{_RX_PLAYERS}/verification",
        202,
        bodies.VERIFICATION,
        "INF",
    ),
    Endpoint(
        "player_unsubscribe",
        "POST",
        "/rx-api/analytics/v1/register/event/unsubscribe",
        202,
        bodies.UNSUBSCRIBE,
        "PEER",
    ),
    Endpoint(
        "crm_trigger", "POST", "/rx-api/crm/v1/trigger-action", 202, bodies.CRM_TRIGGER, "INF"
    ),
    Endpoint("bonus_offer_upsert", "PUT", _OFFER, 202, bodies.BONUS_OFFER, "DOC"),
    Endpoint("bonus_offer_delete", "DELETE", _OFFER, 204, None, "DOC"),
    Endpoint(
        "players_migration_batch",
        "POST",
        "/api/players-data/v1/migrate/batch",
        200,
        bodies.MIGRATION_BATCH,
        "DOC",
        gzip=True,
    ),
)
_BY_KEY = {item.key: item for item in _ENDPOINTS}
MESSAGE_TYPES: tuple[str, ...] = tuple(_BY_KEY)
# Paths PEP has not published: settings.PEP_PATHS may replace these (PEP_PATH_<KEY>).
OVERRIDABLE: tuple[str, ...] = (
    "player_create",
    "player_delete",
    "player_marketing_preferences",
    "player_verification",
    "crm_trigger",
)


def endpoint(message_type: str) -> Endpoint:
    """Return the endpoint for a message type, with any configured path override applied.

    Raises KeyError for an unknown message type.
    """
    base = _BY_KEY[message_type]
    override = getattr(settings, "PEP_PATHS", {}).get(message_type)
    if not override:
        return replace(base, path_params=tuple(_PARAM.findall(base.path)))
    if not override.startswith("/"):
        raise ValueError(f"PEP_PATH_{message_type.upper()} must start with '/': {override!r}")
    return replace(base, path=override, path_params=tuple(_PARAM.findall(override)))


def body_spec(message_type: str) -> Spec:
    """The body spec of a message type (path overrides do not touch bodies, so none is read).

    Raises KeyError for an unknown message type and ValueError for one that takes no body.
    """
    spec = _BY_KEY[message_type].body
    if spec is None:
        raise ValueError(f"{message_type} takes no body")
    return spec


def endpoints() -> list[Endpoint]:
    """All endpoints, overrides applied, in contract order."""
    return [endpoint(key) for key in MESSAGE_TYPES]


def path_for(message_type: str, **params: str) -> str:
    """Fill the path template ({playerId}, {bonusOfferId}); each value is one path segment.

    Each value is percent-encoded whole ('/', '?', '#', '%' included), so it cannot add a
    segment, a query or a fragment. A value of dots only is refused (ValueError): "." and ".."
    stay dot segments even encoded (%2E is "."), and URL normalisation would drop them, so
    `DELETE .../players/..` would reach the collection instead of one player.
    """
    template = endpoint(message_type).path

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in params or params[name] in ("", None):
            raise ValueError(f"{message_type} needs the path parameter {name}")
        value = str(params[name])
        if not value.strip("."):
            raise ValueError(f"{message_type}: {name} {value!r} would be a dot segment")
        return quote(value, safe="")

    return _PARAM.sub(fill, template)


def resolve(method: str, path: str) -> tuple[Endpoint, dict[str, str]] | None:
    """Find the endpoint serving METHOD PATH (query string ignored) and its unquoted parameters."""
    path = path.split("?", 1)[0]
    for item in endpoints():
        if item.method != method.upper():
            continue
        match = _path_regex(item.path).match(path)
        if match:
            return item, {name: unquote(value) for name, value in match.groupdict().items()}
    return None


def _path_regex(template: str) -> re.Pattern[str]:
    """Turn "/offer/{bonusOfferId}" into a regex with one named group per parameter."""
    parts = _PARAM.split(template)  # literal, name, literal, name, ...
    regex = "".join(
        f"(?P<{part}>[^/]+)" if index % 2 else re.escape(part) for index, part in enumerate(parts)
    )
    return re.compile(f"^{regex}$")
