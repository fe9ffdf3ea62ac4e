"""Responses to a request that presented an API credential are never stored by a cache.

They may carry personal data (`GET /ingest/v1/players/...`) or what one client may see and
another may not, so a proxy or a client library's HTTP cache must neither keep them nor serve
them to a request with another credential. A middleware rather than a DRF hook: it covers every
view that reads these headers (DRF views, the OAuth token view, error answers from either)
without each view opting in.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control, patch_vary_headers

# Every header an API credential travels in (pepbridge.api.authentication, /oauth/token Basic).
CREDENTIAL_HEADERS = ("Authorization", "X-Authorization", "X-Api-Key")
_META_NAMES = tuple("HTTP_" + name.upper().replace("-", "_") for name in CREDENTIAL_HEADERS)


class NoStoreForCredentialsMiddleware:
    """`Cache-Control: no-store` and `Vary` on the credential headers, for credentialed calls."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if any(name in request.META for name in _META_NAMES):
            patch_cache_control(response, no_store=True)
            patch_vary_headers(response, CREDENTIAL_HEADERS)
        return response
