"""Fixtures of the ingestion specifications: a signed sender posting to POST /ingest/events."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from automaps import aws as aws_clients
from automaps import config, secrets
from automaps.store.contacts import Contact, ContactStore
from automaps.intake.ingest import signature
from functions.ingest_events import app
from tests.conftest import load_event


@pytest.fixture
def jane(aws, clock) -> Contact:
    """GIVEN Jane, a contact since the newsletter form."""
    contact, _ = ContactStore().upsert_by_email("jane@example.com", {"first_name": "Jane"}, tags=["newsletter"])
    return contact


class Sender:
    """The course platform: signs with the stack's ingestion secret and posts."""

    def __init__(self, lambda_context: Any, clock: Any) -> None:
        self.context, self.clock = lambda_context, clock

    @property
    def secret(self) -> str:
        return secrets.get(os.environ["INGEST_SECRET_ARN"])

    def post(self, body: Any = None, *, fixture: str = "ingest_course_completed.json", secret: str | None = None,
             header: str | None = None, sent_at: int | None = None) -> dict[str, Any]:
        event = load_event(fixture)
        if body is not None:
            event["body"] = body if isinstance(body, str) else json.dumps(body)
        timestamp = int(self.clock.now().timestamp()) if sent_at is None else sent_at
        signed = header if header is not None else signature(secret or self.secret, event["body"].encode(), timestamp)
        event["headers"]["Automaps-Signature"] = signed
        event["multiValueHeaders"]["Automaps-Signature"] = [signed]
        if header == "":
            del event["headers"]["Automaps-Signature"], event["multiValueHeaders"]["Automaps-Signature"]
        response = app.lambda_handler(event, self.context)
        response["json"] = json.loads(response["body"])
        return response


@pytest.fixture
def sender(aws, clock, lambda_context) -> Sender:
    return Sender(lambda_context, clock)


def item_count() -> int:
    return aws_clients.client("dynamodb").scan(TableName=config.contacts_table(), Select="COUNT")["Count"]


def fixture_body(name: str) -> Any:
    return json.loads(load_event(name)["body"])
