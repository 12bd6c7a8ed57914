"""A small JSON-over-HTTP client the provider adapters share.

One urllib3 pool per process (created on first use), explicit timeouts, no retries of its own:
retries belong to the state machine. Every answer is classified once:

* 2xx: the decoded JSON body;
* 429, 408, 409 (a concurrent request holds a lock), 5xx, a timeout or a connection failure:
  :class:`automaps.steps.TransientError`, so the state's Retry runs the step again;
* any other 4xx (and a redirect): :class:`ProviderError`, a PermanentError carrying the status
  and the provider's own error type, code and message, recorded as the step's failure.

Request and error texts never contain credentials: auth headers are never logged or echoed.
"""

from __future__ import annotations

import json
import threading
from typing import Any
from urllib.parse import urlencode

from automaps.steps import PermanentError, TransientError

CONNECT_TIMEOUT = 3.05
READ_TIMEOUT = 20.0
TRANSIENT_STATUSES = frozenset({408, 409, 425, 429})

_pool_lock = threading.Lock()
_pool: Any = None


class ProviderError(PermanentError):
    """The provider refused the request (a 4xx); retrying the same request will not help."""

    def __init__(self, provider: str, status: int, message: str, *, type_: str | None = None,
                 code: str | None = None, extra: dict[str, Any] | None = None) -> None:
        detail = {"provider": provider, "status": status, **({"type": type_} if type_ else {}),
                  **({"code": code} if code else {}), **(extra or {})}
        super().__init__(f"{provider} answered {status}: {message}", detail)
        self.provider, self.status, self.message = provider, status, message
        self.type, self.code, self.extra = type_, code, extra or {}


def _pool_manager() -> Any:
    global _pool
    with _pool_lock:
        if _pool is None:
            import urllib3

            _pool = urllib3.PoolManager(retries=False, maxsize=4, block=False,
                                        timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT))
        return _pool


class JsonClient:
    """Calls one provider at ``base_url`` with fixed ``headers`` (auth, version, ...)."""

    def __init__(self, provider: str, base_url: str, headers: dict[str, str] | None = None) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers or {})

    def request(self, method: str, path: str, *, query: dict[str, Any] | None = None,
                form: dict[str, Any] | None = None, json_body: Any = None,
                headers: dict[str, str] | None = None) -> Any:
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
        try:
            response = _pool_manager().request(method, url, body=body, headers=sent, redirect=False,
                                               preload_content=True)
        except urllib3.exceptions.HTTPError as error:
            raise TransientError(f"{self.provider} could not be reached: {type(error).__name__}") from None
        return self._answer(method, path, response)

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
            raise ProviderError(self.provider, status, f"{where} was redirected to {location}; "
                                                      "set the connection's address to the final one")
        raise ProviderError(self.provider, status, message or f"{where} refused", type_=type_, code=code,
                            extra=extra)


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
