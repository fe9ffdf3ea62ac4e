"""The rewards poller: PEP's `bonus_offer` rewards from the Data Fetch API, fulfilled like
reward-shop purchases.

Why: a webhook PEP failed to deliver (our outage, theirs) is never sent again; the public peer
integration therefore also polls `reward-processor/rewards` and grants the bonus offers it
finds. Each polled `bonus_offer` reward becomes an inbox event (`reward_bonus_offer`, payload in
PEP's webhook item form) of a delivery marked "polled", and goes through the same processing
and fulfilment as a `product_purchase`. Its `PurchaseId` item is PEP's order id when the reward
names one (the same key as the webhook's purchase), so a purchase seen by both is fulfilled
once; the inbox's dedup key keeps a reward polled twice (the overlap) stored once.

Off unless PEP_REWARDS_POLL_SECONDS > 0. Runs from the per-minute schedule "webhooks: rewards
poll"; within one run it polls every PEP_REWARDS_POLL_SECONDS for up to RUN_SECONDS. Requests
stay under PEP_REWARDS_POLL_PER_MINUTE in any sliding minute (the API allows 100).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from pepbridge.pep.client import get_pep_client
from pepbridge.pep.errors import PepError
from webhooks.forwarding import inbox_forward
from webhooks.handlers import POLLED_REWARD_EVENT
from webhooks.intake import kick
from webhooks.models import InboxEvent, RewardsCursor, WebhookDelivery
from webhooks.splitting import dedup_key, event_row

logger = logging.getLogger(__name__)

CURSOR = "rewards"
RUN_SECONDS = 50.0  # one scheduled run (every minute) polls for at most this long
LEASE_SECONDS = 110  # longer than a run, shorter than Q_TIMEOUT's default of 120
MAX_PAGES_PER_POLL = 20
BONUS_OFFER_TYPES = frozenset({"bonus_offer", "bonusoffer", "bonus"})

# Keys tried on each reward, in order (PEP's envelope is undocumented: docs/webhooks.md).
LIST_KEYS = ("data", "items", "rewards", "results", "content")
NEXT_KEYS = ("next", "nextCursor", "nextPage", "cursor")
DELTA_KEYS = ("delta", "nextDelta", "lastDelta")
REWARD_ID_KEYS = ("id", "rewardId", "_id", "uuid")
PLAYER_KEYS = ("playerId", "externalPlayerId", "PlayerId", "userId")
TYPE_KEYS = ("type", "rewardType", "kind")
OFFER_ID_KEYS = ("bonusOfferId", "bonusId", "externalId", "referenceId", "itemId", "productId")
OFFER_NAME_KEYS = ("name", "externalName", "title", "bonusOfferName", "description")
ORDER_ID_KEYS = ("purchaseId", "orderId", "transactionId", "rewardShopOrderId")
DATE_KEYS = ("createdAt", "date", "grantedAt", "updatedAt", "timestamp")


@dataclass
class PollResult:
    """What one poll did (pages fetched, rewards read, bonus offers newly stored)."""

    requests: int = 0
    rewards: int = 0
    stored: int = 0
    skipped: int = 0
    stopped: str = ""  # why the poll ended before the feed was drained, if it did
    errors: list[str] = field(default_factory=list)


def rewards_poll_run(
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[PollResult]:
    """The scheduled entry: poll every PEP_REWARDS_POLL_SECONDS until RUN_SECONDS are used.

    With an interval of a minute or more, one poll per run when the last one is old enough.
    """
    interval = settings.PEP_REWARDS_POLL_SECONDS
    if interval <= 0:
        return []
    cursor = _cursor()
    if cursor.last_polled_at is not None and interval >= 60:
        due = cursor.last_polled_at + timedelta(seconds=interval - 5)
        if timezone.now() < due:
            return []
    results: list[PollResult] = []
    started = clock()
    while True:
        results.append(rewards_poll())
        if clock() - started + interval > RUN_SECONDS:
            return results
        sleep(interval)


def rewards_poll() -> PollResult:
    """One poll: fetch pages from the cursor on, store the bonus offers, advance the cursor.

    Two runs never poll at once (a lease taken with a compare-and-set UPDATE). A PEP failure
    keeps the cursor where it was: the next poll asks again from there.
    """
    if not _lease_take():
        return PollResult(stopped="another poll holds the lease")
    try:
        return _poll()
    finally:
        RewardsCursor.objects.filter(name=CURSOR).update(lease_until=None)


def _cursor() -> RewardsCursor:
    cursor, _ = RewardsCursor.objects.get_or_create(name=CURSOR)
    return cursor


def _lease_take() -> bool:
    _cursor()
    now = timezone.now()
    free = RewardsCursor.objects.filter(name=CURSOR).exclude(lease_until__gt=now)
    return free.update(lease_until=now + timedelta(seconds=LEASE_SECONDS)) == 1


def _poll() -> PollResult:
    cursor = RewardsCursor.objects.get(name=CURSOR)
    result = PollResult()
    poll_started = timezone.now()
    if not cursor.delta and not cursor.next_page:
        # First poll: from now on. Rewards from before the poller was turned on are not
        # granted (staff may set an older delta in the cursor to catch up on purpose).
        cursor.delta = _delta_text(poll_started)
    new_delta = ""
    deadline = time.monotonic() + RUN_SECONDS  # slow answers must not outlive the lease
    for _ in range(MAX_PAGES_PER_POLL):
        if not _budget_allows(cursor):
            result.stopped = "rate budget"
            break
        if result.requests and time.monotonic() > deadline:
            result.stopped = "time budget"
            break
        cursor.recent_requests = [*cursor.recent_requests, time.time()]
        result.requests += 1
        try:
            page = get_pep_client().rewards_fetch(delta=cursor.delta, next_page=cursor.next_page)
        except PepError as exc:
            result.errors.append(str(exc))
            result.stopped = "PEP error"
            cursor.last_error = f"{timezone.now():%Y-%m-%d %H:%M:%S} {exc}"[:2000]
            logger.warning("rewards_poll_failed error=%s", getattr(exc, "error_class", ""))
            break
        rewards, next_page, page_delta = _page_parts(page)
        stored, skipped = rewards_store(rewards)
        result.rewards += len(rewards)
        result.stored += stored
        result.skipped += skipped
        cursor.rewards_seen += len(rewards)
        cursor.bonus_offers_stored += stored
        new_delta = page_delta or new_delta
        if next_page and next_page != cursor.next_page:
            cursor.next_page = next_page[:512]
            continue
        # Drained: the next poll asks for what changed since this one started (with an
        # overlap for clock differences; what is re-read is stored once by its dedup key).
        overlap = timedelta(seconds=settings.PEP_REWARDS_POLL_OVERLAP_SECONDS)
        cursor.delta = (new_delta or _delta_text(poll_started - overlap))[:64]
        cursor.next_page, cursor.last_error = "", ""
        cursor.last_success_at = timezone.now()
        break
    else:
        result.stopped = "page limit"
    cursor.last_polled_at = timezone.now()
    cursor.save(
        update_fields=[
            "delta",
            "next_page",
            "recent_requests",
            "last_polled_at",
            "last_success_at",
            "last_error",
            "rewards_seen",
            "bonus_offers_stored",
        ]
    )
    logger.info(
        "rewards_poll requests=%s rewards=%s stored=%s stopped=%s",
        result.requests,
        result.rewards,
        result.stored,
        result.stopped or "-",
    )
    return result


def _budget_allows(cursor: RewardsCursor) -> bool:
    """Keep only the last minute's requests; True while under the per-minute budget."""
    now = time.time()
    recent = [t for t in cursor.recent_requests if isinstance(t, int | float) and now - t < 60]
    cursor.recent_requests = recent
    return len(recent) < settings.PEP_REWARDS_POLL_PER_MINUTE


def _delta_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _page_parts(page: Any) -> tuple[list[Mapping[str, Any]], str, str]:
    """(rewards, next page cursor, delta for the next poll) from a page in any likely shape."""
    if isinstance(page, list):
        return [r for r in page if isinstance(r, Mapping)], "", ""
    if not isinstance(page, Mapping):
        return [], "", ""
    found: Any = next((page[k] for k in LIST_KEYS if isinstance(page.get(k), list)), [])
    meta = page.get("meta")
    places: tuple[Mapping[str, Any], ...] = (page, meta) if isinstance(meta, Mapping) else (page,)
    next_page = next((_scalar(p.get(k)) for p in places for k in NEXT_KEYS if p.get(k)), "")
    delta = next((_scalar(p.get(k)) for p in places for k in DELTA_KEYS if p.get(k)), "")
    return [r for r in found if isinstance(r, Mapping)], next_page, delta


def _scalar(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        return ""
    return str(value)


def _first(reward: Mapping[str, Any], keys: Iterable[str]) -> str:
    for key in keys:
        text = _scalar(reward.get(key))
        if text:
            return text
    return ""


def reward_event(reward: Mapping[str, Any]) -> dict[str, Any] | None:
    """The reward as an inbox event in PEP's webhook form; None unless a usable bonus offer."""
    kind = _first(reward, TYPE_KEYS).lower().replace("-", "_")
    reward_id, player = _first(reward, REWARD_ID_KEYS), _first(reward, PLAYER_KEYS)
    if kind.replace("_", "") not in {t.replace("_", "") for t in BONUS_OFFER_TYPES}:
        return None
    if not reward_id or not player:
        return None
    order_id = _first(reward, ORDER_ID_KEYS)
    items = [
        ("PlayerId", player),
        ("RewardId", reward_id),
        # PEP's order id is the webhook purchase's PurchaseId: one fulfilment for both.
        ("PurchaseId", order_id or f"reward-{reward_id}"),
        ("ProductId", _first(reward, OFFER_ID_KEYS)),
        ("ProductName", _first(reward, OFFER_NAME_KEYS)),
    ]
    return {
        "eventName": POLLED_REWARD_EVENT,
        "payload": [{"key": k, "type": "string", "value": v[:200]} for k, v in items if v],
        "eventDate": _first(reward, DATE_KEYS),
    }


def rewards_store(rewards: list[Mapping[str, Any]]) -> tuple[int, int]:
    """Store the page's bonus offers not seen before as inbox events; (stored, skipped).

    One delivery row (marked "polled") per page with bonus offers, holding those rewards as
    PEP sent them; processing is kicked after commit like a webhook's.
    """
    pairs = [(r, e) for r in rewards if (e := reward_event(r)) is not None]
    events = [e for _, e in pairs]
    skipped = len(rewards) - len(events)
    if not events:
        return 0, skipped
    keyed = {dedup_key(e): e for e in events}
    with transaction.atomic():
        known = set(
            InboxEvent.objects.filter(dedup_key__in=list(keyed)).values_list("dedup_key", flat=True)
        )
        fresh = {k: e for k, e in keyed.items() if k not in known}
        if not fresh:
            return 0, skipped
        now = timezone.now()
        delivery = WebhookDelivery.objects.create(
            remote_addr=None,
            timestamp_header="poll",
            signed_at=now,
            replay_key=hashlib.sha256(f"poll:{uuid.uuid4()}".encode()).hexdigest(),
            key_slot=0,
            signed_form=WebhookDelivery.SignedForm.POLL,
            body=json.dumps([r for r, _ in pairs], default=str),
            event_count=len(events),
            new_event_count=len(fresh),
            split_at=now,  # its events are stored right here, not by the splitter
        )
        InboxEvent.objects.bulk_create(
            [event_row(delivery, key, event) for key, event in fresh.items()],
            ignore_conflicts=True,
        )
        inbox_forward([delivery])
        transaction.on_commit(kick)
    return len(fresh), skipped
