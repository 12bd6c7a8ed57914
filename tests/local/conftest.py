"""Shared by the local runtime's tests: the fixture stack and a way to put a contact in it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def _put_contact(contact_id: str, email: str) -> None:
    """A contact profile and its email marker, in the table layout of docs/architecture.md."""
    from automaps import aws

    table, db = os.environ["CONTACTS_TABLE"], aws.client("dynamodb")
    db.put_item(TableName=table, Item={"pk": {"S": f"CONTACT#{contact_id}"}, "sk": {"S": "PROFILE"},
                                       "id": {"S": contact_id}, "tags": {"L": [{"S": "lead"}]},
                                       "fields": {"M": {"email": {"S": email}}}})
    db.put_item(TableName=table, Item={"pk": {"S": f"EMAIL#{email}"}, "sk": {"S": "EMAIL"},
                                       "contact_id": {"S": contact_id}})


@pytest.fixture
def put_contact() -> Callable[[str, str], None]:
    return _put_contact
