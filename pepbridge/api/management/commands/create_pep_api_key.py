"""Create an API key and print it, once."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from pepbridge.api.models import DEFAULT_SENDER, Scope, sender_problem
from pepbridge.api.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for PEP (scope pep) or the operator platform (scope ingest)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="A name staff will recognise, e.g. 'PEP staging'.")
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
        issued = api_key_create(name=options["name"], scope=options["scope"], sender=sender)
        if options["json"]:
            self.stdout.write(json.dumps({**issued.__dict__, "sender": sender}))
            return
        self.stdout.write(
            f"API key {issued.name!r} ({issued.key_id}) created, scope {issued.scope!r}, "
            f"sender {sender!r}."
        )
        self.stdout.write(f"api_key: {issued.api_key}")
        self.stdout.write("Send it in x-api-key or x-authorization. It cannot be shown again.")
