"""Send one signed PEP event webhook to the bridge, as PEP would (docs/webhooks.md)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from pepbridge.sandbox.webhooks import DEMO_PRODUCT_ID, EVENT_KINDS, build_event, send


class Command(BaseCommand):
    help = "Send a signed PEP webhook (level_up, rank_up, product_purchase) to the bridge."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("event", choices=EVENT_KINDS)
        parser.add_argument("--player", default="demo-1001")
        parser.add_argument("--level", type=int, default=2)
        parser.add_argument("--rank", default="Silver")
        parser.add_argument("--product", default=DEMO_PRODUCT_ID, help="PEP product id")
        parser.add_argument("--purchase-id", default="", help="default: a new one each time")
        parser.add_argument("--url", default=settings.PEP_SANDBOX_WEBHOOK_URL)

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.PEP_WEBHOOK_SECRETS:
            raise CommandError("PEP_WEBHOOK_SECRETS is empty: no key to sign with")
        event = build_event(
            options["event"],
            options["player"],
            level=options["level"],
            rank=options["rank"],
            product_id=options["product"],
            purchase_id=options["purchase_id"],
        )
        sent = send(options["url"], settings.PEP_WEBHOOK_SECRETS[0], [event])
        self.stdout.write(f"{options['event']} for {sent.player}: {sent.status} {sent.answer}")
        if sent.status != 202:
            raise CommandError(f"the bridge answered {sent.status or 'nothing'}")
