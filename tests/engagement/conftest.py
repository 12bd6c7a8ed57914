"""Givens of the email engagement specifications: Jane, the SES events of an email sent to her
(fixture events from events/, addressed to her), and what send_email asked SES for."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from automaps import aws as aws_clients
from automaps.store.contacts import Contact, ContactStore, HistoryEntry
from tests.conftest import load_event

JANE = "jane.doe@example.com"   # the recipient in the SES fixture events
MESSAGE_ID = "010001973a5e8c1f-5d0e4b7a-2c1f-4e7d-9a3b-8f6e5d4c3b2a-000000"


@pytest.fixture
def jane(store: ContactStore, clock) -> Contact:
    """GIVEN Jane, a contact."""
    contact, _ = store.upsert_by_email(JANE, {"first_name": "Jane"})
    return contact


def ses_event(name: str, contact: Contact | str, **tags: str | None) -> dict[str, Any]:
    """The EventBridge event ``events/<name>.json`` (an SES record) about an email sent to
    ``contact``; ``tags`` replace message tags (None removes one)."""
    event = copy.deepcopy(load_event(f"{name}.json"))
    mail_tags = event["detail"]["mail"]["tags"]
    mail_tags["contact_id"] = [contact if isinstance(contact, str) else contact.id]
    for tag, value in tags.items():
        if value is None:
            mail_tags.pop(tag, None)
        else:
            mail_tags[tag] = [value]
    return event


def deliver(event: dict[str, Any], lambda_context) -> dict[str, Any]:
    """WHEN EventBridge delivers ``event`` to the email events function."""
    from functions.email_events import app

    return app.lambda_handler(copy.deepcopy(event), lambda_context)


def engagement(store: ContactStore, contact: Contact, prefix: str = "email.") -> list[HistoryEntry]:
    """The contact's email engagement entries (``email.sent`` left out), oldest first."""
    return [entry for entry in store.history(contact.id)
            if entry.kind.startswith(prefix) and entry.kind != "email.sent"]


@pytest.fixture
def ses_requests(aws) -> Iterator[list[dict[str, Any]]]:
    """The parameters of every SES v2 SendEmail call, as botocore sends them."""
    captured: list[dict[str, Any]] = []

    def keep(params: dict[str, Any], **_: Any) -> None:
        captured.append(copy.deepcopy(params))

    client = aws_clients.client("sesv2")
    client.meta.events.register("provide-client-params.sesv2.SendEmail", keep)
    yield captured
    client.meta.events.unregister("provide-client-params.sesv2.SendEmail", keep)
