"""The sandbox's HTTP layer: a stdlib ThreadingHTTPServer, startable in-process or as a command."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from pepbridge.sandbox.app import Sandbox
from pepbridge.sandbox.faults import Fault
from pepbridge.sandbox.operator import OperatorInbox
from pepbridge.sandbox.records import Record
from pepbridge.sandbox.responses import DROP, Request, Response
from pepbridge.sandbox.webhooks import WebhookSender

logger = logging.getLogger(__name__)

MAX_READ = 64 * 1024 * 1024  # refuse to buffer anything larger; PEP's own limit is 15 MB


class _Handler(BaseHTTPRequestHandler):
    """Reads one request, lets the Sandbox answer, writes the answer; keeps connections alive."""

    protocol_version = "HTTP/1.1"
    # Without this, keep-alive request/response pairs wait on delayed ACKs (~40 ms each).
    disable_nagle_algorithm = True
    timeout = 60  # idle keep-alive connections are closed after this many seconds
    server: _Server

    def do_request(self) -> None:
        body = self._read_body()
        if body is None:
            return
        url = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=url.path,
            query=dict(parse_qsl(url.query)),
            headers=self.headers,  # type: ignore[arg-type]
            body=body,
        )
        response = self.server.sandbox.handle(request)
        if response is DROP:
            self._drop()
        else:
            self._write(response)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_request

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_READ:
            self.send_error(413)
            return None
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            # The client went away mid-body (a killed worker): like a real server, nothing is
            # handled or recorded, since the request never arrived whole.
            self.close_connection = True
            return None
        return body

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    def _write(self, response: Response) -> None:
        self.send_response(response.status)
        if response.content_type:
            self.send_header("Content-Type", response.content_type)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _drop(self) -> None:
        """Close the socket without a byte of answer, as a crashed gateway would."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("sandbox %s", format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # benchmarks open many connections at once

    def __init__(self, address: tuple[str, int], sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.open_sockets: set[socket.socket] = set()
        self._sockets_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        # Track live connections so stop() can close keep-alive sockets held by clients.
        with self._sockets_lock:
            self.open_sockets.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._sockets_lock:
                self.open_sockets.discard(request)

    def close_open_sockets(self) -> None:
        with self._sockets_lock:
            sockets = list(self.open_sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class SandboxServer:
    """A local stand-in for PEP's Platform API, for tests, benchmarks and `manage.py pep_sandbox`.

    `start()` serves on a background thread and returns the base URL; `stop()` ends it and closes
    every open connection. Port 0 picks a free port.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        client_id: str = "pepbridge-dev",
        client_secret: str = "sandbox-secret",  # noqa: S107 (a local test double)
        token_lifetime: int = 300,
        clock: Callable[[], float] = time.time,
        max_records: int = 10_000,
        webhooks: WebhookSender | None = None,
        operator: OperatorInbox | None = None,
    ) -> None:
        self.sandbox = Sandbox(
            client_id=client_id,
            client_secret=client_secret,
            token_lifetime=token_lifetime,
            clock=clock,
            max_records=max_records,
            webhooks=webhooks,
            operator=operator,
        )
        self._httpd = _Server((host, port), self.sandbox)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def client_id(self) -> str:
        return self.sandbox.tokens.client_id

    @property
    def client_secret(self) -> str:
        return self.sandbox.tokens.client_secret

    def start(self) -> str:
        """Serve on a daemon thread; return the base URL (e.g. http://127.0.0.1:54321)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},  # stop() waits at most this long
                name="pep-sandbox",
                daemon=True,
            )
            self._thread.start()
        return self.base_url

    def serve_forever(self) -> None:
        """Serve on the calling thread until interrupted (the management command)."""
        try:
            self._httpd.serve_forever()
        finally:
            self._httpd.close_open_sockets()
            self._httpd.server_close()

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.close_open_sockets()
        self._httpd.server_close()

    def __enter__(self) -> SandboxServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- delegated state ----------------------------------------------------------------------

    @property
    def received(self) -> list[Record]:
        """Every recorded Platform API request, oldest first."""
        return self.sandbox.received()

    def set_fault(self, message_type: str = "*", **fault: Any) -> Fault:
        return self.sandbox.set_fault(message_type, **fault)

    def clear_faults(self) -> None:
        self.sandbox.clear_faults()

    def reset(self) -> None:
        self.sandbox.reset()

    def expire_tokens(self) -> None:
        """Revoke every token issued so far, right now."""
        self.sandbox.tokens.revoke_all()

    def put_file(
        self,
        name: str,
        data: bytes,
        content_type: str = "application/octet-stream",
        content_encoding: str = "",
    ) -> str:
        """Store a file and return its URL (GET /_sandbox/files/<name>)."""
        self.sandbox.put_file(name, data, content_type, content_encoding)
        return f"{self.base_url}/_sandbox/files/{name}"
