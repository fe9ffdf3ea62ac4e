"""Refuse a chunked request body with 411 instead of reading it as empty.

Django reads a request body by its Content-Length (WSGI gives no other end to it). A body sent
with `Transfer-Encoding: chunked` has none, so under gunicorn or runserver it reads as empty:
an assign-bonus or a reconciliation request arrived as `{}` and was recorded as refused for a
bogus "requestId is required". Every client the bridge serves (PEP, the operator's platform,
curl, requests) sends a Content-Length for a body it has in hand; we say so and refuse the rest.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from pepbridge.api.exception_handler import error_body

LENGTH_REQUIRED = (
    "Send the body with a Content-Length header: chunked transfer encoding is not supported."
)


class RequireContentLengthMiddleware:
    """Answer 411 Length Required (in the API's error shape) to any chunked request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            return JsonResponse(error_body(411, LENGTH_REQUIRED), status=411)
        return self.get_response(request)
