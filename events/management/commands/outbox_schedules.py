"""Create or update the django-q2 schedules of the outbox sweep and prune (idempotent)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from events.services import setup_schedules


class Command(BaseCommand):
    help = "Create/update the outbox sweep and prune schedules in django-q2."

    def handle(self, *args: Any, **options: Any) -> None:
        setup_schedules()
        self.stdout.write("outbox schedules are in place")
