"""A small demo data set and local credentials, so `bin/dev run` shows the whole flow at once.

Debug only: it writes credentials to VAR_DIR/dev-secrets (git-ignored) so that every start of
the demo prints the same logins: a superuser and one staff member per group of
pepbridge/migrations/0003_staff_groups.py, so a newcomer sees what each role sees. The passwords
are generated on the first run, demo-only, and refused outright when DEBUG is false. Every step
is idempotent; running it twice changes nothing.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from bonuses.models import Bonus
from bonuses.services import bonus_create
from events.models import WebhookSubscription
from events.services.subscriptions import subscription_create, subscription_rotate_secret
from pepbridge.private_files import write_private
from pepbridge.sandbox.operator import SECRET_FILE, secret_reader
from pepbridge.sandbox.webhooks import DEMO_PRODUCT_ID, DEMO_PRODUCT_NAME
from players.event_ingestion import ingest_events
from players.loading import ingest_players
from webhooks.models import ProductMapping

DEMO_PLAYERS = ("demo-1001", "demo-1002", "demo-1003")
OPERATOR_SUBSCRIPTION = "operator platform (sandbox)"
# Fixed, not "now minus 30 minutes": a date that moved on each start made every restart a
# profile change, sent to PEP as three PATCHes (issue 13).
DEMO_START = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)


# (role as staff say it, username, group from 0003_staff_groups)
DEMO_STAFF = (
    ("support", "demo-support", "Support"),
    ("bonus manager", "demo-bonus-manager", "Bonus managers"),
    ("compliance", "demo-compliance", "Compliance"),
    ("admin", "demo-admin", "Admins"),
)


@dataclass(frozen=True)
class StaffLogin:
    role: str
    username: str
    password: str


@dataclass(frozen=True)
class DemoLogin:
    admin_user: str
    admin_password: str
    pep_client_id: str
    pep_client_secret: str
    staff: tuple[StaffLogin, ...] = ()


def _secret_dir() -> Path:
    path = Path(settings.VAR_DIR) / "dev-secrets"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _password(name: str) -> str:
    """A password generated once and kept in dev-secrets, so every start prints the same one."""
    password_file = _secret_dir() / name
    if not password_file.exists():
        write_private(password_file, secrets.token_urlsafe(12))
    return password_file.read_text().strip()


def _user(username: str, password: str, **defaults: bool) -> Any:
    user, _ = get_user_model().objects.get_or_create(username=username, defaults=defaults)
    if not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
    return user


def _admin_login() -> tuple[str, str]:
    password = _password("admin-password")
    _user("admin", password, is_staff=True, is_superuser=True)
    return "admin", password


def _staff_logins() -> tuple[StaffLogin, ...]:
    """One staff member per group; the groups come from migration 0003."""
    logins = []
    for role, username, group_name in DEMO_STAFF:
        password = _password(f"{username}-password")
        user = _user(username, password, is_staff=True)
        user.groups.add(Group.objects.get(name=group_name))
        logins.append(StaffLogin(role, username, password))
    return tuple(logins)


def _pep_client() -> tuple[str, str]:
    """PEP's own OAuth client for calling the Operator API, kept across demo runs."""
    from oauth2_provider.models import get_application_model

    from pepbridge.api.services import oauth_client_create

    stored = _secret_dir() / "demo-pep-client.json"
    if stored.exists():
        data = json.loads(stored.read_text())
        if get_application_model().objects.filter(client_id=data["client_id"]).exists():
            return data["client_id"], data["client_secret"]
    issued = oauth_client_create(name="PEP (demo)")
    write_private(
        stored, json.dumps({"client_id": issued.client_id, "client_secret": issued.client_secret})
    )
    return issued.client_id, issued.client_secret


def _operator_subscription() -> None:
    """Subscribe the sandbox's operator platform page to every event, once; its signing secret
    is kept in dev-secrets for `pep_sandbox` to verify with (docs/webhooks.md §11)."""
    stored = _secret_dir() / SECRET_FILE
    found = WebhookSubscription.objects.filter(name=OPERATOR_SUBSCRIPTION).first()
    if found is None:
        url = f"{settings.PEP_SANDBOX_URL.rstrip('/')}/_sandbox/operator"
        issued = subscription_create(name=OPERATOR_SUBSCRIPTION, url=url, event_types=[])
    elif not stored.exists():
        issued = subscription_rotate_secret(subscription_id=found.pk)
    else:
        return
    write_private(stored, issued.secret)


def operator_secret() -> str | None:
    """The demo subscription's signing secret, for the sandbox's receiver (None: no demo yet)."""
    return secret_reader(_secret_dir() / SECRET_FILE)()


def _bonuses() -> None:
    catalogue: list[dict[str, Any]] = [
        {"bonus_id": "WELCOME100", "name": "Welcome bonus 100%", "bonus_type": "deposit_match",
         "percentage": Decimal("100"), "currency": "EUR", "wagering_requirement": Decimal("30")},
        {"bonus_id": "FS-STARBURST-20", "name": "20 free spins on Starburst",
         "bonus_type": "free_spins", "amount": Decimal("20"), "currency": "EUR"},
        {"bonus_id": "CASH10", "name": "10 EUR cash", "bonus_type": "cash",
         "amount": Decimal("10"), "currency": "EUR", "max_grants_per_player": 1},
    ]  # fmt: skip
    for fields in catalogue:
        if not Bonus.objects.filter(bonus_id=fields["bonus_id"]).exists():
            bonus_create(**fields)


def _product_mapping() -> None:
    """The sandbox's reward-shop product, so its "product purchase" button grants free spins."""
    if not ProductMapping.objects.filter(pep_product_id=DEMO_PRODUCT_ID).exists():
        ProductMapping.objects.create(
            pep_product_id=DEMO_PRODUCT_ID,
            pep_product_name=DEMO_PRODUCT_NAME,
            bonus=Bonus.objects.get(bonus_id="FS-STARBURST-20"),
        )


def _players_and_events() -> None:
    start = DEMO_START
    players = [
        {"playerId": pid, "username": f"player{index}", "country": "CH", "currency": "EUR",
         "registrationDate": start.isoformat(), "registrationDevice": "desktop"}
        for index, pid in enumerate(DEMO_PLAYERS, start=1)
    ]  # fmt: skip
    ingest_players(players)
    events: list[dict[str, Any]] = []
    for index, pid in enumerate(DEMO_PLAYERS, start=1):
        at = start + timedelta(minutes=index)
        events.append(_deposit(pid, at, index))
        events.append(_round(pid, at + timedelta(minutes=1), index))
    ingest_events(events)


def _deposit(player_id: str, at: Any, index: int) -> dict[str, Any]:
    return {
        "type": "money_transaction", "playerId": player_id, "transactionId": f"demo-dep-{index}",
        "transactionType": "DEPOSIT", "transactionStatus": "APPROVED", "amount": "50",
        "currency": "EUR", "date": at.isoformat(), "realMoneyBalance": "50",
        "bonusMoneyBalance": "0",
    }  # fmt: skip


def _round(player_id: str, at: Any, index: int) -> dict[str, Any]:
    return {
        "type": "casino_round", "playerId": player_id, "roundId": f"demo-round-{index}",
        "currency": "EUR", "gameId": "starburst", "gameName": "Starburst",
        "gameCategoryId": "slots", "gameCategoryName": "Slots", "gameProviderId": "netent",
        "gameProviderName": "NetEnt",
        "transactions": [
            {"transactionId": f"demo-bet-{index}", "transactionType": "BET",
             "realMoneyAmount": "2.50", "bonusMoneyAmount": "0", "realMoneyBalance": "47.50",
             "bonusMoneyBalance": "0", "date": at.isoformat()},
            {"transactionId": f"demo-win-{index}", "transactionType": "WIN",
             "realMoneyAmount": "5", "bonusMoneyAmount": "0", "realMoneyBalance": "52.50",
             "bonusMoneyBalance": "0", "date": (at + timedelta(seconds=3)).isoformat(),
             "betAmount": "2.50"},
        ],
    }  # fmt: skip


def demo_setup() -> DemoLogin:
    """Create the demo logins, PEP's demo client, a bonus catalogue, players and a few events."""
    if not settings.DEBUG:
        raise RuntimeError("demo data is for local debug runs only (DEBUG is false)")
    admin_user, admin_password = _admin_login()
    staff = _staff_logins()
    client_id, client_secret = _pep_client()
    _bonuses()
    _product_mapping()
    _operator_subscription()
    _players_and_events()
    return DemoLogin(admin_user, admin_password, client_id, client_secret, staff)
