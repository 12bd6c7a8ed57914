"""Fixtures of the contacts store's specifications."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest


@pytest.fixture
def atomic_dynamodb(aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """GIVEN moto answers one DynamoDB request at a time, as each is atomic in DynamoDB.

    moto checks a write's condition and then writes, and undoes a cancelled transaction by
    restoring a copy of the whole table taken before it: two threads can both pass one
    condition, or one can erase the other's write. DynamoDB does neither, so concurrency
    specifications serialise moto's request handling to keep testing our code, not moto's.
    """
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.RLock()
    original = DynamoHandler.call_action

    def call_action(self):  # type: ignore[no-untyped-def]
        with lock:
            return original(self)

    monkeypatch.setattr(DynamoHandler, "call_action", call_action)
    yield
