"""The one place in pepbridge that talks HTTP to PEP (nothing else imports `requests`).

A `PepClient` owns one `requests.Session` (connection pooling), sends every call with a
timeout and the shared OAuth2 token, retries transient faults a few times with backoff, and turns
every failure into `PepTransientError` or `PepPermanentError`. docs/pep-client.md has the policy.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
from django.conf import settings
from django.utils import timezone
from requests.structures import CaseInsensitiveDict
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from pepbridge import backoff, metrics
from pepbridge.pep import contract, wire
from pepbridge.pep.errors import PepError, PepPermanentError, PepTransientError
from pepbridge.pep.token import (
    CachedToken,
    FetchedToken,
    TokenCache,
    cache_key,
    parse_token_response,
)

logger = logging.getLogger("pepbridge.pep")

TOKEN_PATH = "/api/oauth/v1/token"  # noqa: S105  (a URL path, not a password)
BACKOFF_BASE = 0.2  # seconds before the second attempt; doubles per attempt
BACKOFF_CAP = 3.0  # longest wait inside a call; a longer Retry-After goes back to the caller
EXCERPT_BYTES = 4096  # how much of an error body is kept on the exception
TOKEN_BODY_LIMIT = 64 * 1024
TRANSIENT_4XX = frozenset({408, 425, 429})
REWARDS_PATH = "/api/data-fetch/v1/reward-processor/rewards"
REWARDS_PAGE_LIMIT = 1000  # the Data Fetch API's largest page
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class PepResponse:
    status: int
    body: bytes
    headers: Mapping[str, str]
    elapsed_ms: float

    def json(self) -> Any:
        """Decode the body with PEP's wire rules (fractions as Decimal)."""
        return wire.loads(self.body)


@dataclass(frozen=True, kw_only=True)
class _Call:
    """One HTTP exchange to make, handed down whole from `request` to `_send`.

    Named fields instead of a positional bundle: each level passes the call on unchanged, and
    the token (new after a 401) goes beside it, since it belongs to the attempt, not the call.
    """

    method: str
    url: str
    # Out of the repr: the token call's body holds the client secret.
    body: bytes | None = field(default=None, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    params: Mapping[str, str] | None = None
    stream_limit: int | None = None  # refuse a larger answer ("too_large") without reading it

    @property
    def action(self) -> str:
        """The "GET /path" that messages name the call by (no host, no query string)."""
        return _action(self.method, self.url)


class _Secret:
    """Holds the client secret so that no repr, traceback or debug page can show it."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<secret>"


class PepClient:
    """Send requests to PEP's Platform API; see `request` for the contract.

    `clock` and `sleep` are attributes so tests can move time and skip real waiting.
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        attempts: int | None = None,
    ) -> None:
        self.base_url = (base_url or settings.PEP_BASE_URL).rstrip("/")
        self.client_id = client_id if client_id is not None else settings.PEP_CLIENT_ID
        secret = client_secret if client_secret is not None else settings.PEP_CLIENT_SECRET
        self._secret = _Secret(secret)
        connect = connect_timeout or settings.PEP_CONNECT_TIMEOUT
        read = read_timeout or settings.PEP_READ_TIMEOUT
        self.timeout = (connect, read)
        self.attempts = attempts or settings.PEP_HTTP_ATTEMPTS
        self.default_token_lifetime = float(settings.PEP_TOKEN_DEFAULT_LIFETIME)
        self.clock: Callable[[], datetime] = timezone.now
        self.sleep: Callable[[float], None] = time.sleep
        self.session = pooled_session(self.base_url)
        self.tokens = TokenCache(
            key=cache_key(self.base_url, self.client_id),
            fetch=self._fetch_token,
            refresh_margin=float(settings.PEP_TOKEN_REFRESH_MARGIN),
            # Long enough for one token request to time out; after that another may try.
            lease_seconds=connect + read + 5.0,
            clock=lambda: self.clock(),
            sleep=lambda seconds: self.sleep(seconds),
        )
        self._origin = _origin(self.base_url)
        self._context = threading.local()

    def __repr__(self) -> str:
        return f"<PepClient {self.base_url} client_id={self.client_id}>"

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        retry: bool = True,
        stream_limit: int | None = None,
    ) -> PepResponse:
        """Send one request to PEP with the shared token; 2xx -> PepResponse, else raise.

        Raises PepTransientError (retry later) or PepPermanentError (dead-letter). Transient
        faults are retried here up to PEP_HTTP_ATTEMPTS times unless `retry=False`, or a
        Retry-After exceeds BACKOFF_CAP. A 401 drops the token and retries once with a new one.
        `body` goes as-is, as application/json unless `headers` say otherwise. `path` may be
        an absolute URL on PEP's own scheme and host (detailsURL downloads); `stream_limit`
        refuses a larger body ("too_large") without reading it all.
        """
        url = self._url(path)
        send_headers: CaseInsensitiveDict[str] = CaseInsensitiveDict()
        if body is not None:
            send_headers["Content-Type"] = "application/json"
        send_headers.update(headers or {})
        call = _Call(
            method=method,
            url=url,
            body=body,
            headers=send_headers,
            params=params,
            stream_limit=stream_limit,
        )
        if not retry:
            # One attempt: nothing for tenacity to do, and setting it up for each of the
            # outbox's sends (every one is retry=False) cost 5-10 % of a request's CPU.
            self._context.attempt = 1
            return self._authorized(call)
        for attempt in self._retrying(retry):
            with attempt:
                self._context.attempt = attempt.retry_state.attempt_number
                return self._authorized(call)
        raise AssertionError("tenacity ended without a result")  # pragma: no cover

    def download(self, url: str, *, limit: int) -> PepResponse:
        """GET a file at a URL PEP handed us (a migration feedback's detailsURL), up to `limit`.

        On PEP's own origin it goes like any call, with our token. On a host named in
        PEP_DETAILS_ALLOWED_HOSTS (a CDN, an S3 presigned URL) it goes with no Authorization
        header at all, since our token must never reach a third party, and only over HTTPS
        unless DEBUG. Any other URL raises PepPermanentError ("foreign_url", "insecure_url")
        before a request is made. Transient faults are retried as in `request`.
        """
        if _origin(url) == self._origin:
            return self.request("GET", url, stream_limit=limit)
        self._check_details_host(url)
        for attempt in self._retrying(True):
            with attempt:
                self._context.attempt = attempt.retry_state.attempt_number
                call = _Call(method="GET", url=url, stream_limit=limit)
                response = self._exchange(call)
                self._raise_for_status(response, call.action)
                return response
        raise AssertionError("tenacity ended without a result")  # pragma: no cover

    def rewards_fetch(
        self, *, delta: str = "", next_page: str = "", limit: int = REWARDS_PAGE_LIMIT
    ) -> Any:
        """One page of the Data Fetch API's reward-processor rewards, decoded (the envelope is
        PEP's, undocumented: webhooks/poller.py reads it tolerantly).

        `delta` asks for rewards changed since then; `next_page` continues a page sequence.
        No retry inside the call: the poller's next run is the retry, and a retry here would
        spend the 100 requests/min the Data Fetch API allows. `limit` is capped at 1000.
        """
        params = {"limit": str(max(1, min(limit, REWARDS_PAGE_LIMIT)))}
        if delta:
            params["delta"] = delta
        if next_page:
            params["next"] = next_page
        response = self.request("GET", REWARDS_PATH, params=params, retry=False)
        try:
            return response.json()
        except ValueError:
            raise PepPermanentError(
                "PEP answered the rewards fetch with a body that is not JSON",
                status=response.status,
                error_class="bad_json",
            ) from None

    def _check_details_host(self, url: str) -> None:
        """Refuse a download URL that is neither on PEP's origin nor on an allowed host."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        allowed = {name.lower() for name in settings.PEP_DETAILS_ALLOWED_HOSTS}
        if host not in allowed:
            raise PepPermanentError(
                f"refusing a URL outside PEP_BASE_URL's host and PEP_DETAILS_ALLOWED_HOSTS "
                f"({host or 'no host'})",
                error_class="foreign_url",
            )
        scheme = parts.scheme.lower()
        if scheme != "https" and not (settings.DEBUG and scheme == "http"):
            raise PepPermanentError(
                f"refusing a {scheme} URL on {host}: HTTPS only outside DEBUG",
                error_class="insecure_url",
            )

    def token_age_seconds(self) -> float | None:
        """Seconds since the shared token was fetched, for the health endpoint; None if none."""
        return self.tokens.age_seconds()

    def close(self) -> None:
        self.session.close()

    # --- one attempt ---------------------------------------------------------------------

    def _authorized(self, call: _Call) -> PepResponse:
        token = self.tokens.get()
        response = self._exchange(call, token)
        if response.status == 401:
            # Revoked or expired early: drop it (only if nobody replaced it yet), retry once.
            self.tokens.invalidate(token)
            rejected, token = token, self.tokens.get()
            response = self._exchange(call, token)
            if response.status == 401:
                raise PepPermanentError(
                    f"PEP rejected a freshly fetched token on {call.action}",
                    status=401,
                    body_excerpt=self._excerpt(response.body, rejected.value, token.value),
                    error_class="token_rejected",
                )
        self._raise_for_status(response, call.action, token.value)
        return response

    def _exchange(self, call: _Call, token: CachedToken | None = None) -> PepResponse:
        """Do one HTTP exchange and log it; raise only when there is no HTTP answer."""
        send = CaseInsensitiveDict(call.headers)
        if token is not None:
            send["Authorization"] = f"Bearer {token.value}"
        started = time.monotonic()
        try:
            with metrics.pep_request_in_flight():
                response = self._send(call, send, started)
        except PepError as exc:
            self._log(call.method, call.url, exc.status, started, exc.error_class)
            raise
        status_class = _status_class(response.status)
        self._log(call.method, call.url, response.status, started, status_class)
        return response

    def _send(self, call: _Call, headers: Mapping[str, str], started: float) -> PepResponse:
        """The request itself; `headers` are the call's with the attempt's Authorization."""
        action = call.action
        try:
            raw = self.session.request(
                call.method,
                call.url,
                data=call.body,
                headers=headers,
                params=call.params,
                timeout=self.timeout,
                allow_redirects=False,  # a redirect must not carry our token anywhere
                stream=True,
            )
            try:
                content = _read_body(raw, call.stream_limit, action)
            finally:
                raw.close()
        # `from None` throughout: requests' exceptions carry the prepared request, headers
        # (the token) included, and must not be chained into our errors.
        except requests.Timeout:
            raise PepTransientError(f"PEP timed out on {action}", error_class="timeout") from None
        except requests.ConnectionError as exc:
            message = f"could not reach PEP for {action} ({type(exc).__name__})"
            raise PepTransientError(message, error_class="connection") from None
        except requests.RequestException as exc:
            message = f"HTTP failure on {action} ({type(exc).__name__})"
            raise PepTransientError(message, error_class="unknown") from None
        elapsed_ms = (time.monotonic() - started) * 1000
        return PepResponse(raw.status_code, content, CaseInsensitiveDict(raw.headers), elapsed_ms)

    def _raise_for_status(self, response: PepResponse, action: str, token: str = "") -> None:
        status = response.status
        if 200 <= status < 300:
            return
        message = f"PEP answered {status} to {action}"
        excerpt = self._excerpt(response.body, token)
        if 400 <= status < 500 and status not in TRANSIENT_4XX:
            raise PepPermanentError(message, status=status, body_excerpt=excerpt)
        # 408/425/429, 5xx and anything unexpected (1xx, 3xx) may well pass later.
        retry_after = parse_retry_after(response.headers.get("Retry-After"), self.clock())
        raise PepTransientError(
            message, status=status, body_excerpt=excerpt, retry_after=retry_after
        )

    # --- token ---------------------------------------------------------------------------

    def _fetch_token(self) -> FetchedToken:
        """Ask PEP for a token, counted by outcome in pepbridge_pep_token_refreshes_total."""
        with metrics.token_refresh():
            return self._request_token()

    def _request_token(self) -> FetchedToken:
        """Ask PEP for a token: one attempt, the caller's retry loop covers transient faults."""
        url = self.base_url + TOKEN_PATH
        body = wire.dumps(
            contract.wire_body(
                contract.body_spec("token"),
                client_id=self.client_id,
                client_secret=self._secret.value,
            )
        )
        headers = {"Content-Type": "application/json"}
        call = _Call(
            method="POST", url=url, body=body, headers=headers, stream_limit=TOKEN_BODY_LIMIT
        )
        response = self._exchange(call)
        if 400 <= response.status < 500 and response.status not in TRANSIENT_4XX:
            raise PepPermanentError(
                f"PEP's token endpoint refused our client credentials ({response.status}): "
                "check PEP_CLIENT_ID, PEP_CLIENT_SECRET and PEP_BASE_URL",
                status=response.status,
                body_excerpt=self._excerpt(response.body),
                error_class="token_config",
            )
        self._raise_for_status(response, f"POST {TOKEN_PATH}")
        return parse_token_response(
            response.body, now=self.clock(), default_lifetime=self.default_token_lifetime
        )

    # --- helpers -------------------------------------------------------------------------

    def _retrying(self, retry: bool) -> Iterator[Any]:
        return iter(
            Retrying(
                stop=stop_after_attempt(self.attempts if retry else 1),
                wait=_backoff,
                retry=retry_if_exception(_worth_retrying_now),
                sleep=self.sleep,
                reraise=True,
            )
        )

    def _url(self, path: str) -> str:
        if _has_dot_segment(path):
            # Normalisation would drop it and move the request to another resource (the
            # collection instead of one player); rows written before ids were checked may hold one.
            raise PepPermanentError(
                "refusing a path with a '.' or '..' segment", error_class="unsafe_path"
            )
        if not path.startswith(("http://", "https://")):
            return f"{self.base_url}/{path.lstrip('/')}"
        if _origin(path) != self._origin:
            # The URL came from PEP's payload: never send our token to another host.
            raise PepPermanentError(
                f"refusing a URL outside PEP_BASE_URL's host ({urlsplit(path).hostname})",
                error_class="foreign_url",
            )
        return path

    def _excerpt(self, body: bytes, *tokens: str) -> str:
        """The start of PEP's answer, with our secret and tokens blanked should PEP echo them."""
        text = body[:EXCERPT_BYTES].decode("utf-8", errors="replace")
        for secret in (self._secret.value, *tokens):
            if secret:
                text = text.replace(secret, "***")
        return text

    def _log(
        self, method: str, url: str, status: int | None, started: float, error_class: str
    ) -> None:
        level = logging.WARNING if error_class else logging.INFO
        path = urlsplit(url).path  # no query string, no payload: no personal data
        seconds = time.monotonic() - started
        outcome = metrics.status_outcome(status, error_class)
        metrics.observe_pep_request(_endpoint_label(method, path), method, outcome, seconds)
        fields = {
            "method": method,
            "path": path,
            "status": status or "",
            "latency_ms": round(seconds * 1000, 1),
            "attempt": getattr(self._context, "attempt", 1),
            "error_class": error_class,
        }
        logger.log(level, "pep call", extra=fields)


def _has_dot_segment(path: str) -> bool:
    """Whether the path part of `path` has a "." or ".." segment, percent-encoded or not."""
    return any(unquote(segment) in (".", "..") for segment in urlsplit(path).path.split("/"))


def pooled_session(base_url: str | None) -> requests.Session:
    """A pooled session that reads the proxy and CA bundle environment once, here.

    `base_url` picks the proxy (None: the caller passes `proxies` per request, as the operator
    webhook sender does for its many hosts).

    With trust_env on, requests looks up the proxy variables (and .netrc) on every call: about a
    quarter of a delivery worker's CPU. An explicit HTTPS_PROXY / HTTP_PROXY (minus NO_PROXY)
    and REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE are still honoured, as read when the client is made.
    .netrc is not: its credentials must never replace our bearer token. The session is shared
    by the outbox's send threads (requests' pool is thread-safe; the token cache has its lock).
    """
    session = requests.Session()
    # One keep-alive connection per request a delivery worker keeps in flight (plus the token
    # call), so its send threads reuse connections instead of opening and dropping extras.
    adapter = requests.adapters.HTTPAdapter(pool_maxsize=settings.OUTBOX_MAX_IN_FLIGHT + 2)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.trust_env = False
    if base_url is not None:
        session.proxies.update(requests.utils.get_environ_proxies(base_url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    session.headers.update({"Accept": "application/json", "User-Agent": "pepbridge"})
    return session


def _read_body(raw: requests.Response, limit: int | None, action: str) -> bytes:
    """Read the body; error bodies are cut to an excerpt, success bodies refused over `limit`."""
    if not 200 <= raw.status_code < 300:
        return _read_upto(raw, EXCERPT_BYTES)
    if limit is None:
        return raw.content
    length = raw.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > limit:
        raise _too_large(raw.status_code, action, limit)
    content = _read_upto(raw, limit + 1)
    if len(content) > limit:
        raise _too_large(raw.status_code, action, limit)
    return content


def _read_upto(raw: requests.Response, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in raw.iter_content(chunk_size=64 * 1024):
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)[:limit]


def _too_large(status: int, action: str, limit: int) -> PepPermanentError:
    return PepPermanentError(
        f"PEP's answer to {action} is larger than {limit} bytes",
        status=status,
        error_class="too_large",
    )


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # HTTP-dates are GMT
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)


def _worth_retrying_now(exc: BaseException) -> bool:
    if not isinstance(exc, PepTransientError):
        return False
    return exc.retry_after is None or exc.retry_after <= BACKOFF_CAP


def _backoff(state: RetryCallState) -> float:
    """Exponential backoff with jitter, or the Retry-After PEP asked for if that is longer."""
    # Up to a quarter shorter: spreads retries out, and never past BACKOFF_CAP.
    delay = backoff.delay(state.attempt_number, base=BACKOFF_BASE, cap=BACKOFF_CAP, jitter=0.25)
    exc = state.outcome.exception() if state.outcome else None
    retry_after: float | None = getattr(exc, "retry_after", None)
    return max(delay, retry_after) if retry_after is not None else delay


@lru_cache(maxsize=1024)
def _endpoint_label(method: str, path: str) -> str:
    """The contract endpoint a path belongs to ("other" if none): a label that names no player.

    Cached because resolving costs ~150 µs and the hot paths (casino rounds, payments) repeat.
    """
    found = contract.resolve(method, path)
    return found[0].key if found else "other"


def _status_class(status: int) -> str:
    return "" if 200 <= status < 300 else f"http_{status}"


def _action(method: str, url: str) -> str:
    return f"{method} {urlsplit(url).path}"


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or ""), parts.port or _DEFAULT_PORTS.get(scheme)


_client: PepClient | None = None
_client_lock = threading.Lock()


def get_pep_client() -> PepClient:
    """The process's PepClient, created on first use (thread-safe)."""
    global _client
    client = _client
    if client is None:
        with _client_lock:
            if _client is None:
                _client = PepClient()
            client = _client
    return client


def reset_pep_client() -> None:
    """Close and forget the process's client, e.g. after tests change settings."""
    global _client
    with _client_lock:
        client, _client = _client, None
    if client is not None:
        client.close()
