"""A small JSON-over-HTTP client the provider adapters share.

One urllib3 pool per process (created on first use), explicit timeouts and a total deadline
(:data:`DEADLINE`: a server that answers a byte at a time cannot hold a call longer), no
retries of its own: retries belong to the state machine. Outside providers are reached over
https only; plain http is for loopback addresses (local stand-ins in tests). Every answer is
classified once:

* 2xx: the decoded JSON body;
* 429, 408, 409 (a concurrent request holds a lock), 5xx, a connect timeout or a refused
  connection: :class:`automaps.journeys.steps.TransientError`, so the state's Retry runs the step again;
* a request that changes something (POST, DELETE, ...) whose answer was lost once it was sent
  (a read timeout, a dropped connection): :class:`automaps.journeys.steps.OutcomeUnknown`
  (:func:`transport_error`); the effect marker then decides (automaps.journeys.effects);
* any other 4xx (and a redirect): :class:`ProviderError`, a PermanentError carrying the status
  and the provider's own error type, code and message, recorded as the step's failure.

Request and error texts never contain credentials: auth headers are never logged or echoed.
"""

from __future__ import annotations

import ipaddress
import json
import threading
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

from automaps.errors import OutcomeUnknown, PermanentError, TransientError

CONNECT_TIMEOUT = 3.05
READ_TIMEOUT = 20.0
DEADLINE = 25.0  # seconds for the whole exchange, however the server paces its answer
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TRANSIENT_STATUSES = frozenset({408, 409, 425, 429})

_pool_lock = threading.Lock()
_pool: Any = None


class ProviderError(PermanentError):
    """The provider refused the request (a 4xx); retrying the same request will not help."""

    def __init__(
        self,
        provider: str,
        status: int,
        message: str,
        *,
        type_: str | None = None,
        code: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        detail = {
            "provider": provider,
            "status": status,
            **({"type": type_} if type_ else {}),
            **({"code": code} if code else {}),
            **(extra or {}),
        }
        super().__init__(f"{provider} answered {status}: {message}", detail)
        self.provider, self.status, self.message = provider, status, message
        self.type, self.code, self.extra = type_, code, extra or {}


def _pool_manager() -> Any:
    global _pool
    with _pool_lock:
        if _pool is None:
            import urllib3

            _pool = urllib3.PoolManager(
                retries=False,
                maxsize=4,
                block=False,
                timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT),
            )
        return _pool


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def require_https(url: str, provider: str) -> str:
    """``url`` if it is https, or http to a loopback address (a local stand-in); else a
    PermanentError: credentials must not travel in cleartext."""
    parts = urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname)):
        return url
    raise PermanentError(
        f"{provider}: {parts.scheme}://{parts.hostname or ''} is not https; outside providers "
        "are reached over https only (http only on a loopback address)"
    )


def transport_error(error: Exception, provider: str, method: str) -> Exception:
    """A urllib3 failure: nothing sent (connect refused or timed out, name or TLS failure) is
    transient; after the request went out (read timeout, reset, protocol error, deadline) a
    change (POST, DELETE...) may have been made: OutcomeUnknown; a read is simply retried."""
    import urllib3

    name = type(error).__name__
    before = isinstance(
        error,
        (
            urllib3.exceptions.ConnectTimeoutError,
            urllib3.exceptions.NewConnectionError,
            urllib3.exceptions.SSLError,
            urllib3.exceptions.ProxyError,
            urllib3.exceptions.LocationParseError,
        ),
    )
    if before or method.upper() in SAFE_METHODS:
        return TransientError(f"{provider} could not be reached: {name}")
    return OutcomeUnknown(
        provider, f"{provider} may have accepted the {method.upper()} but its answer was lost ({name})"
    )


def read_within(response: Any, deadline: float, limit: int = MAX_RESPONSE_BYTES) -> bytes:
    """The body of ``response`` (opened with ``preload_content=False``), read before ``deadline``
    (``time.monotonic()``): every read waits at most the time left, so a slow drip of bytes
    cannot stretch the call. Raises urllib3's ReadTimeoutError when the deadline passes."""
    import urllib3

    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise urllib3.exceptions.ReadTimeoutError(None, "", "the answer took longer than the deadline")  # type: ignore[arg-type]
            sock = getattr(getattr(response, "connection", None), "sock", None)
            if sock is not None:
                sock.settimeout(remaining)
            chunk = response.read1(16384)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                break
    finally:
        response.release_conn()
    return b"".join(chunks)[:limit]


class _Answer:
    """What ``_answer`` reads of a response: status, headers, the body read within the deadline."""

    def __init__(self, status: int, headers: Any, data: bytes) -> None:
        self.status, self.headers, self.data = status, headers, data


class JsonClient:
    """Calls one provider at ``base_url`` with fixed ``headers`` (auth, version, ...)."""

    def __init__(self, provider: str, base_url: str, headers: dict[str, str] | None = None) -> None:
        self.provider = provider
        self.base_url = require_https(base_url.rstrip("/"), provider)
        self.headers = dict(headers or {})

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        form: dict[str, Any] | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """Send one request; returns the decoded JSON answer (None for an empty 2xx body)."""
        import urllib3

        url = f"{self.base_url}{path}"
        if query:
            url = f"{url}?{urlencode(_pairs(query))}"
        sent = {"Accept": "application/json", "User-Agent": "automaps", **self.headers, **(headers or {})}
        body: bytes | None = None
        if json_body is not None:
            body, sent["Content-Type"] = json.dumps(json_body).encode(), "application/json"
        elif form is not None or method in {"POST", "PUT", "PATCH"}:
            body, sent["Content-Type"] = urlencode(_pairs(form or {})).encode(), "application/x-www-form-urlencoded"
        deadline = time.monotonic() + DEADLINE
        timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT, total=DEADLINE)
        try:
            response = _pool_manager().request(
                method, url, body=body, headers=sent, redirect=False, preload_content=False, timeout=timeout
            )
            answer = _Answer(response.status, response.headers, read_within(response, deadline))
        except urllib3.exceptions.HTTPError as error:
            raise transport_error(error, self.provider, method) from None
        return self._answer(method, path, answer)

    def _answer(self, method: str, path: str, response: Any) -> Any:
        status = response.status
        payload = _decode(response.data)
        if 200 <= status < 300:
            return payload
        type_, code, message, extra = _error_fields(payload)
        where = f"{method} {path}"
        if status in TRANSIENT_STATUSES or status >= 500:
            raise TransientError(f"{self.provider} answered {status} to {where}: {message or 'no message'}")
        if 300 <= status < 400:
            location = response.headers.get("Location", "?")
            raise ProviderError(
                self.provider,
                status,
                f"{where} was redirected to {location}; set the connection's address to the final one",
            )
        raise ProviderError(self.provider, status, message or f"{where} refused", type_=type_, code=code, extra=extra)


def _pairs(values: dict[str, Any]) -> list[tuple[str, str]]:
    """Form/query pairs in the bracket notation Stripe and PHP read: ``a[b]=1``, ``a[]=x``."""
    pairs: list[tuple[str, str]] = []

    def add(key: str, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, dict):
            for sub, inner in value.items():
                add(f"{key}[{sub}]", inner)
        elif isinstance(value, (list, tuple)):
            for inner in value:
                add(f"{key}[]", inner)
        elif isinstance(value, bool):
            pairs.append((key, "true" if value else "false"))
        else:
            pairs.append((key, str(value)))

    for name, value in values.items():
        add(name, value)
    return pairs


def _decode(data: bytes) -> Any:
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return {"message": data[:200].decode("utf-8", "replace").strip()}


def _error_fields(payload: Any) -> tuple[str | None, str | None, str, dict[str, Any]]:
    """(type, code, message, extra) of an error body: Stripe's ``{"error": {...}}`` or WordPress's
    ``{"code": ..., "message": ...}``."""
    if isinstance(payload, str):
        return None, None, payload[:200], {}
    if not isinstance(payload, dict):
        return None, None, "", {}
    body = payload["error"] if isinstance(payload.get("error"), dict) else payload
    extra = {key: str(body[key]) for key in ("decline_code", "param") if body.get(key)}
    message = body.get("message")
    return (_text(body.get("type")), _text(body.get("code")), str(message) if message else "", extra)


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None
