"""Load the demo data set and print how to log in and call the bridge as PEP would."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from pepbridge.demo import demo_setup


class Command(BaseCommand):
    help = (
        "Create the demo logins (a superuser, one per staff group), PEP's demo OAuth client, "
        "bonuses, players and events (debug only)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--web-url", default="http://127.0.0.1:8000")

    def handle(self, *args: Any, web_url: str, **options: Any) -> None:
        try:
            login = demo_setup()
        except RuntimeError as exc:
            raise CommandError(str(exc)) from None
        staff = "".join(f"    {s.role:<15}{s.username} / {s.password}\n" for s in login.staff)
        self.stdout.write(
            f"Demo data loaded. Demo-only logins (kept in {settings.VAR_DIR}/dev-secrets/):\n"
            f"  back office, one per role: {web_url}/admin/\n"
            f"    {'superuser':<15}{login.admin_user} / {login.admin_password}\n"
            f"{staff}"
            f"  PEP's client     {login.pep_client_id} / {login.pep_client_secret}\n"
            f"Call the bridge as PEP would:\n"
            f"  TOKEN=$(curl -s -d grant_type=client_credentials -d scope=pep "
            f"-u '{login.pep_client_id}:{login.pep_client_secret}' {web_url}/oauth/token "
            f"| python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')\n"
            f"  curl -s -X POST {web_url}/api/bonus/v1/assign-bonus "
            f"-H \"x-authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' "
            f'-d \'{{"requestId": "demo-req-1", "eventDate": "2026-01-01T00:00:00Z", '
            f'"playerId": "demo-1001", "bonusId": "CASH10"}}\'\n'
        )
