"""AWS clients, created on first use and shared by the threads of one process.

Clients are never created at import time. ``reset()`` drops them, which tests and the local
runtime do after starting moto so that no client outlives the mock it was made under.
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_clients: dict[str, Any] = {}


def client(service: str) -> Any:
    found = _clients.get(service)
    if found is not None:
        return found
    with _lock:  # boto3's default session is not safe to create clients from many threads
        found = _clients.get(service)
        if found is None:
            import boto3

            found = _clients[service] = boto3.client(service)
        return found


def reset() -> None:
    with _lock:
        _clients.clear()
