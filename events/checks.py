"""System checks for the delivery settings that only make sense with the delivery code's constants.

Here rather than in pepbridge/checks.py, which may import no app (docs/architecture.md, "Layers");
registered by EventsConfig.ready(). The id keeps its `pepbridge.` prefix: it is silenced by id.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register

from events.services.delivery import LEASE_SLACK_SECONDS


@register()
def check_lease_outlives_a_request(app_configs: Any, **kwargs: Any) -> list[Error]:
    """A worker sends a row only while its lease outlives the request: else it sends nothing."""
    lease = settings.OUTBOX_LEASE_SECONDS
    needed = settings.PEP_CONNECT_TIMEOUT + settings.PEP_READ_TIMEOUT + LEASE_SLACK_SECONDS
    if lease > needed:
        return []
    return [
        Error(
            f"OUTBOX_LEASE_SECONDS ({lease:g} s) does not outlive one request to PEP "
            f"({needed:g} s): workers would claim rows and send none.",
            hint="Raise OUTBOX_LEASE_SECONDS above PEP_CONNECT_TIMEOUT + PEP_READ_TIMEOUT + "
            f"{LEASE_SLACK_SECONDS:g} s (default 120 s), or lower the PEP timeouts.",
            id="pepbridge.E001",
        )
    ]
