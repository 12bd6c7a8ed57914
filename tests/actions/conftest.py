"""Fixtures of the action and journey-task specifications: a contact enrolled in a map, and the
fixture events from events/ addressed to that contact."""

from __future__ import annotations

from typing import Any

import pytest

from automaps import aws as aws_clients
from automaps.store.contacts import Contact, ContactStore
from tests.conftest import load_event

MAP_ID = "welcome-leads"
ENROLLMENT_ID = "e_5f1c0a9b8e7d6c5b4a392817"  # the enrollment the fixture events belong to


@pytest.fixture
def contact(store: ContactStore, clock) -> Contact:
    """GIVEN Jane, a 52-year-old lead from the newsletter form, enrolled in welcome-leads."""
    jane, _ = store.upsert_by_email("jane@example.com", {"first_name": "Jane", "age": 52, "cold_reason": "bounced"},
                                    tags=["newsletter", "cold"])
    store.create_enrollment(jane.id, MAP_ID, ENROLLMENT_ID, {"type": "form_submitted", "form": "newsletter",
                                                             "fields": {"plan": "pro"}})
    return jane


def event_for(name: str, contact: Contact | str, **changes: Any) -> dict[str, Any]:
    """The fixture event ``events/<name>.json``, addressed to ``contact`` (or a contact id)."""
    contact_id = contact if isinstance(contact, str) else contact.id
    return {**load_event(f"{name}.json"), "contact_id": contact_id, **changes}


def kinds(store: ContactStore, contact: Contact) -> list[str]:
    return [entry.kind for entry in store.history(contact.id)]


def idempotency_records() -> list[dict[str, Any]]:
    from automaps import config

    return aws_clients.client("dynamodb").scan(TableName=config.idempotency_table())["Items"]


def retried_alike(again: dict[str, Any], first: dict[str, Any]) -> bool:
    """THEN a retry of one visit answers as the first attempt did. A naturally idempotent action
    (automaps.journeys.steps.NATURALLY_IDEMPOTENT) keeps no idempotency record: its retry finds the
    visit's change made (the DONE# marker) and answers "done by an earlier attempt", or, when the
    first attempt changed nothing, the first answer again."""
    from automaps.journeys.once import EARLIER_ATTEMPT

    same = (again["outcome"], again["step_id"]) == (first["outcome"], first["step_id"])
    return same and (again == first or again["reason"] == EARLIER_ATTEMPT)
