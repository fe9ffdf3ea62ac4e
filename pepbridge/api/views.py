"""Inbound endpoints of this app: the OAuth token endpoint and the API's 404 and 500 answers.

The player identity endpoint (operator-api §5) needs the players table: players/identity_views.py.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider import views as oauth_views

from pepbridge.api.exception_handler import error_body
from pepbridge.api.oauth import FormOrJsonOAuthLibCore


@method_decorator(csrf_exempt, name="dispatch")
class TokenView(oauth_views.TokenView):
    """`POST /oauth/token`: client credentials as a form, HTTP Basic or JSON.

    Errors keep RFC 6749's `error`/`error_description` (OAuth clients read them) and add the
    shape's `statusCode` and `message`.
    """

    oauthlib_backend_class = FormOrJsonOAuthLibCore

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        if response.status_code >= 400:
            response.content = json.dumps(_token_error(response))
            response["Content-Type"] = "application/json"
        return response

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        response = JsonResponse(error_body(405, f'Method "{request.method}" not allowed.'))
        response.status_code = 405
        response["Allow"] = "POST"
        return response


def _token_error(response: HttpResponse) -> dict[str, Any]:
    try:
        oauth_error = json.loads(response.content or b"{}")
    except ValueError:
        oauth_error = {}
    code = str(oauth_error.get("error", "invalid_request"))
    message = str(oauth_error.get("error_description") or code.replace("_", " ").capitalize())
    return {"statusCode": response.status_code, "message": message, **oauth_error, "error": code}


# Paths of the inbound APIs: their 404s and 500s outside DRF views get the error shape too.
API_PREFIXES = ("/api/", "/ingest/", "/oauth/")


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler404: the error shape under the API prefixes, Django's page elsewhere."""
    if request.path.startswith(API_PREFIXES):
        return JsonResponse(error_body(404, "Not found."), status=404)
    return defaults.page_not_found(request, exception or Http404())


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: the error shape under the API prefixes, Django's page elsewhere."""
    if request.path.startswith(API_PREFIXES):
        return JsonResponse(error_body(500, "Internal server error."), status=500)
    return defaults.server_error(request)
