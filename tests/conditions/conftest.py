"""Fixtures of the condition specifications: Jane, and asking the check_condition function
about her, with and without ``not``, the way a state machine does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from automaps.store.contacts import Contact, ContactStore

from functions.check_condition import app as check_condition
from tests.conftest import load_event

MAP_ID = "welcome-leads"


@pytest.fixture
def jane(store: ContactStore, clock) -> Contact:
    """GIVEN Jane, 52, in New York, a newsletter lead, created when the clock starts (2026-11-02 08:00Z)."""
    contact, _ = store.upsert_by_email("jane@example.com", {"first_name": "Jane", "age": 52, "plan": "Pro",
                                                            "timezone": "America/New_York",
                                                            "renewal_at": "2026-11-20T10:00:00Z"},
                                       tags=["newsletter", "lead"])
    return contact


@pytest.fixture
def decide(jane: Contact, lambda_context) -> Callable[..., bool]:
    """WHEN check_condition decides ``condition`` for Jane: returns the verdict, after checking
    that ``not`` gives the opposite and that the evaluation was recorded with its inputs."""

    def ask(condition: dict[str, Any], *, contact: Contact | None = None, fallback_timezone: str | None = None,
            negate: bool = True) -> bool:
        who = contact or jane
        event = {**load_event("check_condition.json"), "contact_id": who.id, "condition": condition,
                 **({"fallback_timezone": fallback_timezone} if fallback_timezone else {})}
        result = check_condition.lambda_handler(event, lambda_context)["result"]
        last = ContactStore().last_event(who.id, "condition.evaluated")
        assert last.detail["condition"] == condition and last.detail["result"] is result
        assert last.detail["inputs"], "an evaluation names what it looked at"
        if negate:
            opposite = check_condition.lambda_handler({**event, "condition": {"not": condition}}, lambda_context)
            assert opposite["result"] is (not result), f"not {condition} should be {not result}"
        return result

    return ask
