"""The PEP access token shared by every process of a deployment.

Here, beside the client that uses it, so that `pepbridge.pep` imports nothing from the back office:
the model still belongs to the `pepbridge` app (pepbridge/models.py imports it for Django).
Not registered in the admin on purpose: the row holds a live bearer token.
"""

from __future__ import annotations

from django.db import models


class PepToken(models.Model):
    """One cached Platform API token per (base URL, client id), plus its refresh lease.

    Processes read the token from here instead of each asking PEP for one. `lease_until` and
    `lease_owner` let exactly one process refresh it at a time with a compare-and-set UPDATE,
    without holding a transaction open during the HTTP call (pepbridge/pep/token.py).
    """

    # sha256 of base URL + client id: identifies the OAuth client without storing it in clear.
    key = models.CharField(max_length=64, unique=True)
    access_token = models.TextField(blank=True, default="", editable=False)
    # Bumped on every store, so a 401 drops the token only if it is still the one that failed.
    generation = models.PositiveBigIntegerField(default=0)
    fetched_at = models.DateTimeField(null=True, blank=True)
    refresh_after = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        verbose_name = "PEP token"

    def __str__(self) -> str:
        # Never the token itself: this string ends up in reprs, logs and debug pages.
        return f"PEP token {self.key[:8]} generation {self.generation}"
