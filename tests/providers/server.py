"""A real HTTP server on 127.0.0.1, in a thread, for the fakes of outside providers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


@dataclass
class Received:
    """One request as the server saw it."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes

    @property
    def form(self) -> list[tuple[str, str]]:
        return parse_qsl(self.body.decode(), keep_blank_values=True)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Fault:
    """The next matching request is answered with ``status``/``body`` (after being handled, if
    ``after`` is set: the provider acted but its answer was lost)."""

    method: str
    path: str
    status: int
    body: Any
    after: bool = False
    headers: dict[str, str] = field(default_factory=dict)


class FakeProvider:
    """Base of the fakes: records requests, answers injected faults, else calls ``handle``."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.faults: list[Fault] = []
        self.slow: list[tuple[str, str, float, float]] = []
        self.lock = threading.Lock()
        self.url = ""

    def slow_next(self, method: str, path: str, *, delay: float = 0.0, drip: float = 0.0) -> None:
        """The next matching request is handled as usual, then its answer waits ``delay`` seconds
        (the provider acted, the answer comes too late) and/or trickles out one byte every
        ``drip`` seconds (a slow-drip server)."""
        self.slow.append((method, path, delay, drip))

    def fail_next(self, method: str, path: str, status: int, body: Any, *, after: bool = False,
                  headers: dict[str, str] | None = None) -> None:
        self.faults.append(Fault(method, path, status, body, after, headers or {}))

    def requests(self, method: str | None = None, path_prefix: str = "") -> list[Received]:
        return [r for r in self.received if (method is None or r.method == method) and r.path.startswith(path_prefix)]

    def handle(self, request: Received) -> tuple[int, Any]:
        raise NotImplementedError

    def wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        import json

        request = Request(environ)
        received = Received(request.method, request.path, list(request.args.items(multi=True)),
                            {k.lower(): v for k, v in request.headers.items()}, request.get_data())
        with self.lock:
            self.received.append(received)
            fault = next((f for f in self.faults if f.method == received.method and f.path == received.path), None)
            if fault:
                self.faults.remove(fault)
            if fault is None or fault.after:
                status, body = self.handle(received)
            if fault is not None:
                status, body = fault.status, fault.body
        headers = fault.headers if fault else {}
        slow = next((s for s in self.slow if s[0] == received.method and s[1] == received.path), None)
        if slow is not None:
            self.slow.remove(slow)
            threading.Event().wait(slow[2])
            if slow[3]:
                return _dripping(json.dumps(body).encode(), status, slow[3], start_response)
        if isinstance(body, str):  # a page from a proxy or firewall, not the provider's JSON
            return Response(body, status=status, content_type="text/plain", headers=headers)(environ, start_response)
        return Response(json.dumps(body), status=status, content_type="application/json",
                        headers=headers)(environ, start_response)


def _dripping(data: bytes, status: int, every: float, start_response: Callable[..., Any]) -> Iterator[bytes]:
    from http import HTTPStatus

    start_response(f"{status} {HTTPStatus(status).phrase}", [("Content-Type", "application/json"),
                                                             ("Content-Length", str(len(data)))])
    for index in range(len(data)):
        if index:
            threading.Event().wait(every)
        yield data[index:index + 1]


@contextmanager
def serving(fake: FakeProvider) -> Iterator[FakeProvider]:
    server = make_server("127.0.0.1", 0, fake.wsgi, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name=f"fake-{type(fake).__name__}", daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_port}"
    try:
        yield fake
    finally:
        server.shutdown()
        thread.join(timeout=5)
