"""The sandbox's behaviour, apart from sockets: PEP's Platform API plus fault injection.

`Sandbox.handle()` turns one parsed request into one response (or DROP); the HTTP layer in
server.py only reads and writes bytes, so this module stays easy to follow and to test.
"""

from __future__ import annotations

import gzip
import threading
import time
import uuid
import zlib
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from pepbridge.pep import contract, wire
from pepbridge.sandbox.control import handle_control
from pepbridge.sandbox.faults import Fault
from pepbridge.sandbox.operator import OperatorInbox
from pepbridge.sandbox.records import Record, mask_secret
from pepbridge.sandbox.responses import (
    DROP,
    Request,
    Response,
    StoredFile,
    error_response,
    json_response,
)
from pepbridge.sandbox.tokens import TokenIssuer
from pepbridge.sandbox.webhooks import WebhookSender

MAX_BODY = 15 * 1024 * 1024  # [DOC] PEP's limit for a migration batch; applied to every call
# The wire names the sandbox reads from what it receives, taken from the contract's specs.
_TOKEN = contract.body_spec("token")
_BATCH = contract.body_spec("players_migration_batch")
_RECORD_ID = _BATCH.item("players").wire("player_id")


class _BadBody(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


class Sandbox:
    """State and behaviour of one sandbox: tokens, faults, what it received, stored files."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        token_lifetime: int = 300,
        clock: Callable[[], float] = time.time,
        max_records: int = 10_000,
        webhooks: WebhookSender | None = None,
        operator: OperatorInbox | None = None,
    ) -> None:
        self.webhooks = webhooks  # None: the page has no webhook buttons
        # The "operator platform" the bridge forwards events to (/_sandbox/operator).
        self.operator = operator or OperatorInbox()
        self.tokens = TokenIssuer(
            client_id=client_id, client_secret=client_secret, lifetime=token_lifetime, clock=clock
        )
        self._clock = clock
        self._faults: dict[str, Fault] = {}
        self._records: deque[Record] = deque(maxlen=max_records)
        self._files: dict[str, StoredFile] = {}
        self._lock = threading.Lock()

    # --- state used by tests, the control API and the page ------------------------------------

    def received(
        self, *, limit: int | None = None, message_type: str | None = None
    ) -> list[Record]:
        """Records oldest first, optionally only one type and only the newest `limit`."""
        with self._lock:
            records = list(self._records)
        if message_type:
            records = [r for r in records if r.message_type == message_type]
        return records[-limit:] if limit else records

    def set_fault(self, message_type: str = "*", **options: Any) -> Fault:
        """Inject faults on one message type, or "*" for every type except the token call."""
        if message_type != "*":
            contract.endpoint(message_type)  # KeyError for a type the contract does not know
        fault = Fault.from_options(options)
        with self._lock:
            self._faults[message_type] = fault
        return fault

    def faults(self) -> dict[str, Fault]:
        with self._lock:
            return dict(self._faults)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def reset(self) -> None:
        """Forget records, faults and files; tokens stay valid so a running bridge carries on."""
        with self._lock:
            self._faults.clear()
            self._records.clear()
            self._files.clear()

    def put_file(
        self, name: str, data: bytes, content_type: str, content_encoding: str = ""
    ) -> None:
        with self._lock:
            self._files[name] = StoredFile(data, content_type, content_encoding)

    def get_file(self, name: str) -> StoredFile | None:
        with self._lock:
            return self._files.get(name)

    # --- request handling ---------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if request.path == "/_sandbox" or request.path.startswith("/_sandbox/"):
            return handle_control(self, request)
        return self._platform(request)

    def _platform(self, request: Request) -> Response:
        found = contract.resolve(request.method, request.path)
        if found is None:
            response = error_response(404, f"no such endpoint: {request.method} {request.path}")
            return self._record(request, None, {}, None, response)
        endpoint, params = found
        fault = self._fault_for(endpoint.key)
        if fault is not None and fault.delay_ms:
            time.sleep(fault.delay_ms / 1000)
        outcome = fault.draw() if fault is not None else None
        parse_error: Response | None
        try:
            body = self._parse_body(endpoint, request)
        except _BadBody as bad:
            body, parse_error = None, bad.response
        else:
            parse_error = None
        if outcome == "drop":
            return self._record(request, endpoint.key, params, body, DROP, fault="drop")
        response, injected = self._answer(endpoint, request, body, parse_error, fault, outcome)
        return self._record(request, endpoint.key, params, body, response, fault=injected)

    def _fault_for(self, key: str) -> Fault | None:
        with self._lock:
            if key in self._faults:
                return self._faults[key]
            return self._faults.get("*") if key != "token" else None

    def _answer(
        self,
        endpoint: contract.Endpoint,
        request: Request,
        body: Any,
        parse_error: Response | None,
        fault: Fault | None,
        outcome: str | None,
    ) -> tuple[Response, str]:
        """Apply auth, then injected faults, then the contract, in the order a gateway would."""
        if endpoint.auth:
            refused = self._check_token(request, fault)
            if refused is not None:
                return refused
        if outcome == "throttle":
            retry_after = str(fault.retry_after if fault else 1)
            response = error_response(429, "too many requests", **{"Retry-After": retry_after})
            return response, "throttle"
        if outcome == "error" and fault is not None:
            return error_response(fault.status, "injected failure"), "error"
        if parse_error is not None:
            return parse_error, ""
        return self._accept(endpoint, body), ""

    def _check_token(self, request: Request, fault: Fault | None) -> tuple[Response, str] | None:
        problem = self.tokens.problem(request.headers.get("Authorization"))
        injected = ""
        if problem is None and fault is not None and fault.take_expire_tokens():
            self.tokens.revoke_all()
            problem, injected = "token expired", "expire_tokens"
        if problem is None:
            return None
        headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        return error_response(401, problem, **headers), injected

    def _parse_body(self, endpoint: contract.Endpoint, request: Request) -> Any:
        raw = request.body
        if len(raw) > MAX_BODY:
            raise _BadBody(error_response(413, f"body larger than {MAX_BODY} bytes"))
        encoding = request.headers.get("Content-Encoding", "").strip().lower()
        if endpoint.gzip and encoding != "gzip":
            raise _BadBody(error_response(415, "this endpoint needs a gzip body"))
        if encoding == "gzip":
            try:
                raw = gzip.decompress(raw)
            except (OSError, EOFError, zlib.error):
                raise _BadBody(error_response(400, "body is not valid gzip")) from None
        elif encoding not in ("", "identity"):
            raise _BadBody(error_response(415, f"unsupported Content-Encoding {encoding}"))
        if not raw:
            return None
        try:
            return wire.loads(raw)
        except ValueError:
            raise _BadBody(error_response(400, "body is not valid JSON")) from None

    def _accept(self, endpoint: contract.Endpoint, body: Any) -> Response:
        if endpoint.key == "token":
            return self._token(body)
        errors = contract.validate(endpoint.key, body)
        if endpoint.key == "players_migration_batch":
            return self._migration(body, errors)
        if errors:
            return _invalid(endpoint.key, errors)
        if endpoint.success_status == 204:
            return Response(204, content_type="")
        return json_response(endpoint.success_status, {})

    def _token(self, body: Any) -> Response:
        errors = contract.validate("token", body)
        if errors:
            return _invalid("token", errors)
        client_id, secret = body[_TOKEN.wire("client_id")], body[_TOKEN.wire("client_secret")]
        if not self.tokens.credentials_match(client_id, secret):
            return error_response(401, "invalid client credentials")
        answer = {
            "accessToken": self.tokens.issue(),
            "expiresIn": self.tokens.lifetime,
            "tokenType": "Bearer",
        }
        return json_response(200, answer)

    def _migration(self, body: Any, errors: dict[str, list[str]]) -> Response:
        """[DOC] 200 with the players that validated and, per failed player, errors by property."""
        per_player: dict[int, dict[str, list[str]]] = {}
        envelope: dict[str, list[str]] = {}
        for path, messages in errors.items():
            parts = path.split(".", 2)
            if len(parts) >= 2 and parts[0] == _BATCH.wire("players") and parts[1].isdigit():
                prop = parts[2] if len(parts) == 3 else ""
                per_player.setdefault(int(parts[1]), {})[prop] = messages
            else:
                envelope[path] = messages
        if envelope:
            return _invalid("players_migration_batch", envelope)
        players = body[_BATCH.wire("players")]
        invalid = [
            {"index": i, "playerId": _player_id(players[i]), "errors": per_player[i]}
            for i in sorted(per_player)
        ]
        valid = [_player_id(p) for i, p in enumerate(players) if i not in per_player]
        answer = {
            "migrationTasksId": str(uuid.uuid4()),
            "validPlayers": valid,
            "invalidPlayers": invalid,
            "errorsTotal": len(invalid),
        }
        return json_response(200, answer)

    def _record(
        self,
        request: Request,
        key: str | None,
        params: dict[str, str],
        body: Any,
        response: Response,
        fault: str = "",
    ) -> Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
        record = Record(
            time=datetime.fromtimestamp(self._clock(), UTC),
            method=request.method,
            path=request.path,
            message_type=key,
            status=response.status or None,
            headers=headers,
            body=mask_secret(body),
            params=params,
            fault=fault,
        )
        with self._lock:
            self._records.append(record)
        return response


def _player_id(player: Any) -> Any:
    return player.get(_RECORD_ID) if isinstance(player, Mapping) else None


def _invalid(key: str, errors: dict[str, list[str]]) -> Response:
    details = [{"field": name, "errors": messages} for name, messages in sorted(errors.items())]
    return error_response(400, f"invalid {key} payload", details)
