"""The two kinds of PEP failure. Every caller decides on these alone: retry or dead-letter."""

from __future__ import annotations


class PepError(Exception):
    """A call to PEP failed. Never carries a secret or a token in its message."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        body_excerpt: str = "",
        error_class: str = "",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body_excerpt = body_excerpt
        # A short, stable label for grouping failures in the admin and health endpoint,
        # e.g. "http_503", "timeout", "connection", "http_400".
        self.error_class = error_class or (f"http_{status}" if status else "unknown")


class PepTransientError(PepError):
    """Worth retrying later: connection errors, timeouts, 408, 425, 429, 5xx, anything unknown."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class PepPermanentError(PepError):
    """Will fail the same way every time (other 4xx): dead-letter it with PEP's answer."""
