"""Create an OAuth client (client credentials) and print its id and secret, once."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from pepbridge.api.models import DEFAULT_SENDER, Scope, sender_problem
from pepbridge.api.services import oauth_client_create


class Command(BaseCommand):
    help = "Create an OAuth client for PEP (scope pep) or the operator platform (scope ingest)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="A name staff will recognise, e.g. 'PEP production'.")
        parser.add_argument("--scope", choices=Scope.values, default=Scope.PEP.value)
        parser.add_argument(
            "--sender",
            default=DEFAULT_SENDER,
            help="The PEP instance it belongs to (default %(default)s). Keep the default unless a "
            "second PEP (e.g. staging) uses this bridge: requestIds are unique per sender.",
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args: Any, **options: Any) -> None:
        sender = options["sender"]
        if problem := sender_problem(sender):
            raise CommandError(f"--sender {sender!r}: {problem}")
        issued = oauth_client_create(name=options["name"], scope=options["scope"], sender=sender)
        if options["json"]:
            self.stdout.write(json.dumps({**issued.__dict__, "sender": sender}))
            return
        self.stdout.write(
            f"Client {issued.name!r} created with scope {issued.scope!r}, sender {sender!r}."
        )
        self.stdout.write(f"client_id:     {issued.client_id}")
        self.stdout.write(f"client_secret: {issued.client_secret}")
        self.stdout.write("The secret is stored hashed and cannot be shown again.")
