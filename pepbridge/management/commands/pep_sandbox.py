"""Run the PEP sandbox, a local stand-in for PEP's Platform API (docs/sandbox.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from pepbridge.sandbox import SandboxServer
from pepbridge.sandbox.operator import SECRET_FILE, OperatorInbox, secret_reader
from pepbridge.sandbox.webhooks import WebhookSender


class Command(BaseCommand):
    help = "Serve a local stand-in for PEP's Platform API, with fault injection."

    def add_arguments(self, parser: CommandParser) -> None:
        default = urlsplit(settings.PEP_SANDBOX_URL)
        parser.add_argument("--host", default=default.hostname or "127.0.0.1")
        parser.add_argument("--port", type=int, default=default.port or 8766)
        # Defaults match the bridge's own PEP credentials, so a local run needs no configuration.
        parser.add_argument("--client-id", default=settings.PEP_CLIENT_ID)
        parser.add_argument("--client-secret", default=settings.PEP_CLIENT_SECRET)
        parser.add_argument("--token-lifetime", type=int, default=300, help="seconds")
        parser.add_argument(
            "--webhook-url",
            default=settings.PEP_SANDBOX_WEBHOOK_URL,
            help="the bridge's webhook intake, for the page's webhook buttons",
        )

    @staticmethod
    def _webhooks(url: str) -> WebhookSender | None:
        """Signed with the bridge's first webhook key, as PEP would; none: no buttons."""
        keys = settings.PEP_WEBHOOK_SECRETS
        return WebhookSender(url=url, key=keys[0]) if keys and url else None

    @staticmethod
    def _operator() -> OperatorInbox:
        """The operator platform page, verifying with the demo subscription's secret (DEBUG)."""
        if not settings.DEBUG:
            return OperatorInbox()
        return OperatorInbox(
            secret=secret_reader(Path(settings.VAR_DIR) / "dev-secrets" / SECRET_FILE)
        )

    def handle(self, *args: Any, **options: Any) -> None:
        server = SandboxServer(
            options["host"],
            options["port"],
            client_id=options["client_id"],
            client_secret=options["client_secret"],
            token_lifetime=options["token_lifetime"],
            webhooks=self._webhooks(options["webhook_url"]),
            # Read per request: demo_setup may write it after the sandbox started.
            operator=self._operator(),
        )
        self.stdout.write(f"PEP sandbox on {server.base_url} (page: {server.base_url}/_sandbox/)")
        self.stdout.flush()  # the first line tells scripts (bin/dev, tests) the actual port
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("PEP sandbox stopped")
