"""Before any view: refuse what no view can read (a chunked body, a NUL byte); after: no-store.

Chunked bodies get 411 instead of being read as empty.

Django reads a request body by its Content-Length (WSGI gives no other end to it). A body sent
with `Transfer-Encoding: chunked` has none, so under gunicorn or runserver it reads as empty:
an assign-bonus or a reconciliation request arrived as `{}` and was recorded as refused for a
bogus "requestId is required". Every client the bridge serves (PEP, the operator's platform,
curl, requests) sends a Content-Length for a body it has in hand; we say so and refuse the rest.

A NUL in the path, the query string or a header value gets 400: PostgreSQL refuses NUL in any
string, so `/ingest/v1/players/a%00b` or an API key holding one made the lookup a 500. (JSON
bodies are checked by the parser; the token endpoint's form by pepbridge.api.oauth.)

Responses to a request that presented an API credential are never stored by a cache: they may
carry personal data (`GET /ingest/v1/players/...`) or what one client may see and another may
not, so a proxy or a client library's HTTP cache must neither keep them nor serve them to a
request with another credential. A middleware rather than a DRF hook: it covers every view that
reads these headers (DRF views, the OAuth token view, error answers from either) without each
view opting in.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import patch_cache_control, patch_vary_headers

from pepbridge.api.exception_handler import error_body

NUL_REFUSED = "The path, query string or a header holds a NUL character."
LENGTH_REQUIRED = (
    "Send the body with a Content-Length header: chunked transfer encoding is not supported."
)
# Every header an API credential travels in (pepbridge.api.authentication, /oauth/token Basic).
CREDENTIAL_HEADERS = ("Authorization", "X-Authorization", "X-Api-Key")
_META_NAMES = tuple("HTTP_" + name.upper().replace("-", "_") for name in CREDENTIAL_HEADERS)


class RequireContentLengthMiddleware:
    """Answer 411 Length Required (in the API's error shape) to any chunked request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            return JsonResponse(error_body(411, LENGTH_REQUIRED), status=411)
        return self.get_response(request)


class RefuseNulMiddleware:
    """Answer 400 (in the API's error shape) when the path, query or a header holds NUL."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _holds_nul(request):
            return JsonResponse(error_body(400, NUL_REFUSED), status=400)
        return self.get_response(request)


def _holds_nul(request: HttpRequest) -> bool:
    query = request.GET
    texts = [request.path, *query.keys(), *(v for k in query for v in query.getlist(k))]
    texts += [value for key, value in request.META.items() if key.startswith("HTTP_")]
    return any("\x00" in text for text in texts if isinstance(text, str))


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
