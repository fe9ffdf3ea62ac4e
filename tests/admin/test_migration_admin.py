"""A migration chunk's last error (PEP's words, which may echo players' data) on the run's page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from players.models import MigrationChunk, MigrationRun

pytestmark = pytest.mark.django_db

EMAIL = "anna.meier@example.com"


@pytest.mark.parametrize(
    ("group", "shown"), [("Support", True), ("Admins", True), ("Compliance", False)]
)
def test_the_chunks_last_error_is_shown_only_with_personal_data_access(
    staff_client, group: str, shown: bool
) -> None:
    run = MigrationRun.objects.create()
    MigrationChunk.objects.create(
        run=run,
        sequence=1,
        first_pk=1,
        last_pk=9,
        player_count=9,
        body_bytes=1,
        gzip_bytes=1,
        status=MigrationChunk.Status.REFUSED,
        last_error=f"http_400: {EMAIL} is not valid",
    )
    response = staff_client(group).get(reverse("admin:players_migrationrun_change", args=[run.pk]))
    assert response.status_code == 200
    assert (EMAIL in response.content.decode()) is shown
    if not shown:
        assert "[hidden: may hold personal data]" in response.content.decode()
