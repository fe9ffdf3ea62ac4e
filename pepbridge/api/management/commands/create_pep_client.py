"""Create an OAuth client (client credentials) and print its id and secret, once."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from pepbridge.api.models import Scope
from pepbridge.api.services import oauth_client_create


class Command(BaseCommand):
    help = "Create an OAuth client for PEP (scope pep) or the operator platform (scope ingest)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="A name staff will recognise, e.g. 'PEP production'.")
        parser.add_argument("--scope", choices=Scope.values, default=Scope.PEP.value)
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args: Any, **options: Any) -> None:
        issued = oauth_client_create(name=options["name"], scope=options["scope"])
        if options["json"]:
            self.stdout.write(json.dumps(issued.__dict__))
            return
        self.stdout.write(f"Client {issued.name!r} created with scope {issued.scope!r}.")
        self.stdout.write(f"client_id:     {issued.client_id}")
        self.stdout.write(f"client_secret: {issued.client_secret}")
        self.stdout.write("The secret is stored hashed and cannot be shown again.")
