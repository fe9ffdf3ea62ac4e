"""The sandbox's own endpoints under /_sandbox/: steer faults, read what arrived, serve files.

They need no token: the sandbox is a local test tool and must be easy to drive with curl.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

from pepbridge.pep import wire
from pepbridge.sandbox import page
from pepbridge.sandbox.records import to_json
from pepbridge.sandbox.responses import Request, Response, error_response, json_response
from pepbridge.sandbox.webhooks import EVENT_KINDS

if TYPE_CHECKING:
    from pepbridge.sandbox.app import Sandbox

_FILE_NAME = re.compile(r"^[A-Za-z0-9._~-][A-Za-z0-9._~/-]*$")


def handle_control(sandbox: Sandbox, request: Request) -> Response:
    route = request.path.removeprefix("/_sandbox").strip("/")
    if route.startswith("files/"):
        return _files(sandbox, request, unquote(route.removeprefix("files/")))
    handler = _ROUTES.get((request.method, route))
    if handler is None:
        return error_response(404, f"no such sandbox endpoint: {request.method} {request.path}")
    return handler(sandbox, request)


def _page(sandbox: Sandbox, request: Request) -> Response:
    html = page.render(sandbox.received(limit=200), sandbox.faults(), sandbox.webhooks)
    return Response(200, html.encode(), content_type="text/html; charset=utf-8")


def _received(sandbox: Sandbox, request: Request) -> Response:
    try:
        limit = int(request.query.get("limit", "100"))
    except ValueError:
        return error_response(400, "limit must be an integer")
    records = sandbox.received(limit=max(limit, 1), message_type=request.query.get("type"))
    return Response(200, to_json(list(reversed(records))))


def _get_faults(sandbox: Sandbox, request: Request) -> Response:
    faults = {key: _wire_safe(fault.as_dict()) for key, fault in sandbox.faults().items()}
    return json_response(200, faults)


def _wire_safe(options: dict[str, Any]) -> dict[str, Any]:
    """Rates are floats; the wire encoder takes only Decimal numbers."""
    return {k: Decimal(str(v)) if isinstance(v, float) else v for k, v in options.items()}


def _set_fault(sandbox: Sandbox, request: Request) -> Response:
    try:
        options: Any = wire.loads(request.body or b"{}")
        if not isinstance(options, dict):
            raise ValueError("the body must be a JSON object")
        options = {k: float(v) if k.endswith("_rate") else v for k, v in options.items()}
        sandbox.set_fault(str(options.pop("message_type", "*")), **options)
    except KeyError as exc:
        return error_response(400, f"unknown message type {exc}")
    except (ValueError, TypeError) as exc:
        return error_response(400, str(exc))
    return _get_faults(sandbox, request)


def _clear_faults(sandbox: Sandbox, request: Request) -> Response:
    sandbox.clear_faults()
    return _get_faults(sandbox, request)


def _reset(sandbox: Sandbox, request: Request) -> Response:
    sandbox.reset()
    return Response(204, content_type="")


def _files(sandbox: Sandbox, request: Request, name: str) -> Response:
    if not _FILE_NAME.match(name) or ".." in name.split("/"):
        return error_response(400, "bad file name")
    if request.method == "PUT":
        content_type = request.headers.get("Content-Type") or "application/octet-stream"
        encoding = request.headers.get("Content-Encoding") or ""
        sandbox.put_file(name, request.body, content_type, encoding)
        return Response(201, content_type="")
    if request.method != "GET":
        return error_response(405, "files take PUT and GET")
    stored = sandbox.get_file(name)
    if stored is None:
        return error_response(404, f"no file {name}")
    headers = {"Content-Encoding": stored.content_encoding} if stored.content_encoding else {}
    return Response(200, stored.data, content_type=stored.content_type, headers=headers)


def _send_webhook(sandbox: Sandbox, request: Request) -> Response:
    """Send PEP's webhook `event` for `player` to the bridge (the page's buttons, or curl).

    A form post (the page) is answered with a redirect back to the page; JSON with the result.
    """
    if sandbox.webhooks is None:
        return error_response(409, "no webhook target: start pep_sandbox with a webhook key")
    # curl -d sends JSON labelled as a form: the body's first byte decides.
    is_form = not request.body.lstrip().startswith(b"{")
    try:
        if is_form:
            fields: Any = dict(parse_qsl(request.body.decode()))
        else:
            fields = wire.loads(request.body or b"{}")
        if not isinstance(fields, dict):
            raise ValueError("the body must be a JSON object")
        kind, player = str(fields.get("event", "")), str(fields.get("player") or "demo-1001")
        if kind not in EVENT_KINDS:
            raise ValueError(f"event must be one of {', '.join(EVENT_KINDS)}")
    except ValueError as exc:
        return error_response(400, str(exc))
    sent = sandbox.webhooks.send_kind(kind, player[:128])
    if is_form:
        return Response(303, content_type="", headers={"Location": "/_sandbox/"})
    return json_response(200, {"status": sent.status, "answer": sent.answer})


def _operator_receive(sandbox: Sandbox, request: Request) -> Response:
    return sandbox.operator.receive(request)


def _operator_page(sandbox: Sandbox, request: Request) -> Response:
    return sandbox.operator.page()


_ROUTES = {
    ("GET", ""): _page,
    ("GET", "received"): _received,
    ("GET", "faults"): _get_faults,
    ("POST", "faults"): _set_fault,
    ("DELETE", "faults"): _clear_faults,
    ("POST", "reset"): _reset,
    ("POST", "webhooks"): _send_webhook,
    ("POST", "operator"): _operator_receive,
    ("GET", "operator"): _operator_page,
}
