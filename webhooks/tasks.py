"""django-q2 entry points for the webhook inbox: each is one service call."""

from __future__ import annotations

from webhooks import fulfilment, poller, processing


def inbox_process_task() -> int:
    """Process pending events (queued, debounced, when a request is stored)."""
    return processing.inbox_process_pending()


def inbox_sweep_task() -> int:
    """Every minute: process events whose kick was lost; fulfil purchases mapped since."""
    return processing.inbox_sweep() + fulfilment.fulfilments_fulfil_mapped()


def fulfil_mapped_task() -> int:
    """After staff save a product mapping: fulfil the purchases waiting for it."""
    return fulfilment.fulfilments_fulfil_mapped()


def rewards_poll_task() -> int:
    """Every minute: poll PEP's rewards if PEP_REWARDS_POLL_SECONDS > 0 (else nothing)."""
    return sum(result.stored for result in poller.rewards_poll_run())
