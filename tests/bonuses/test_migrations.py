"""The idempotency-per-sender migration keeps existing requests working, duplicates included."""

from __future__ import annotations

import pytest
from django.utils import timezone

from tests.migrating import migrate_to, migrate_to_latest

BEFORE = [
    ("bonuses", "0008_assignment_failed_with_reason"),
    ("api", "0002_clear_expired_tokens_schedule"),
]
AFTER = [("bonuses", "0009_assignment_idempotency_per_sender"), ("api", "0003_credential_sender")]


@pytest.mark.django_db(transaction=True)
def test_existing_requests_become_the_default_sender_s_and_old_duplicates_stay_apart() -> None:
    apps = migrate_to(BEFORE)
    bonus = apps.get_model("bonuses", "Bonus").objects.create(
        bonus_id="B", name="B", bonus_type="cash", amount=10, currency="EUR"
    )
    assignment = apps.get_model("bonuses", "BonusAssignment")
    now = timezone.now()
    fields = {"fingerprint": "f", "body": {}, "event_date": now, "bonus": bonus}
    first = assignment.objects.create(client_key="oauth:a", request_id="r-1", **fields)
    copy = assignment.objects.create(client_key="apikey:b", request_id="r-1", **fields)
    other = assignment.objects.create(client_key="apikey:b", request_id="r-2", **fields)
    key = apps.get_model("api", "ApiKey").objects.create(
        name="PEP", key_id="k", secret_hash="x", scope="pep"
    )

    apps = migrate_to(AFTER)
    migrate_to_latest()

    senders = dict(apps.get_model("bonuses", "BonusAssignment").objects.values_list("pk", "sender"))
    assert senders == {first.pk: "pep", copy.pk: f"legacy-{copy.pk}", other.pk: "pep"}
    assert apps.get_model("api", "ApiKey").objects.get(pk=key.pk).sender == "pep"


REJECTED_BEFORE = [("bonuses", "0012_new_bonuses_refuse_amount_overrides")]
REJECTED_AFTER = [("bonuses", "0013_rejected_assignment_per_sender")]


def _rejected_rows(apps, **by_credential: str) -> dict[str, int]:
    model = apps.get_model("bonuses", "RejectedAssignment")
    fields = {"request_id": "r-1", "body": {}, "errors": {}}
    return {
        name: model.objects.create(client_key=key, fingerprint=fp, **fields).pk
        for name, (key, fp) in by_credential.items()
    }


@pytest.mark.django_db(transaction=True)
def test_refused_requests_keep_their_rows_under_the_default_sender_and_migrate_back() -> None:
    apps = migrate_to(REJECTED_BEFORE)
    pks = _rejected_rows(
        apps, first=("oauth:a", "f"), copy=("apikey:b", "f"), other=("apikey:b", "g")
    )

    apps = migrate_to(REJECTED_AFTER)
    rows = apps.get_model("bonuses", "RejectedAssignment").objects
    assert dict(rows.values_list("pk", "sender")) == {
        pks["first"]: "pep",
        pks["copy"]: f"legacy-{pks['copy']}",
        pks["other"]: "pep",
    }

    apps = migrate_to(REJECTED_BEFORE)  # reversible: the rows survive the way back
    assert apps.get_model("bonuses", "RejectedAssignment").objects.count() == 3
    migrate_to_latest()
