"""django-q2 entry points: ids in, one service call, the outcome logged. No rules here."""

from __future__ import annotations

import logging

from reconciliation import feedback, services
from reconciliation.models import ReconciliationRequest

logger = logging.getLogger("reconciliation")


def repair_request(request_pk: int) -> int:
    """Repair the items of one accepted request (queued on commit by the intake)."""
    request = ReconciliationRequest.objects.get(pk=request_pk)
    outcome = services.repair_request(
        request_pk, cause=f"task:reconciliation.repair_request ({request.cause})"
    )
    return outcome.sent


def fetch_feedback(download_pk: int) -> str:
    """Download one migration feedback's details (queued on commit by the webhook)."""
    return feedback.feedback_fetch(download_pk)


def recheck() -> int:
    """The scheduled pass (django-q2 Schedule every RECONCILIATION_RECHECK_MINUTES)."""
    report = services.reconciliation_recheck()
    logger.info(
        "reconciliation re-check",
        extra={
            "confirmed": report.confirmed,
            "sent": report.repair.sent,
            "downloads": report.downloads,
        },
    )
    return report.confirmed + report.repair.sent
