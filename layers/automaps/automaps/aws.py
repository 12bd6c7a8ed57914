"""AWS clients, created on first use and shared by the threads of one process.

Clients are never created at import time. ``reset()`` drops them, which tests and the local
runtime do after starting moto so that no client outlives the mock it was made under.

The clients of the services we *send* through (:data:`SINGLE_ATTEMPT`: SES, SNS, End User
Messaging, Amazon Connect) are made with one attempt per call (``total_max_attempts: 1``):
botocore's own retry would resend a request whose answer was lost (a read timeout), which for
a send is a second message. Whether to call again is the step runner's decision (the state's
Retry and the effect markers, automaps.journeys.effects). No client is reconfigured after it is made;
every other service keeps the SDK's retries.
"""

from __future__ import annotations

import threading
from typing import Any

SINGLE_ATTEMPT = frozenset({"sesv2", "sns", "pinpoint-sms-voice-v2", "connect"})

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

            make: Any = boto3.client  # any service name, so not the typed per-service overloads
            found = _clients[service] = make(service, config=_config(service))
        return found


def _config(service: str) -> Any:
    if service not in SINGLE_ATTEMPT:
        return None
    from botocore.config import Config

    return Config(retries={"mode": "standard", "total_max_attempts": 1})


def reset() -> None:
    with _lock:
        _clients.clear()
