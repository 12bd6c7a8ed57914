"""Givens shared by the send_email and send_sms specifications."""

from __future__ import annotations

from typing import Any

import yaml

from automaps import aws as aws_clients, clock, config
from automaps.store.contacts import Contact, ContactStore, HistoryEntry
from automaps.store.content import ContentStore, to_item
from tests.conftest import ROOT, load_event


def a_contact(email: str | None = "jane.doe@example.com", **fields: Any) -> Contact:
    """GIVEN a contact; one with no email is stored as an import would store it (profile only)."""
    if email is not None:
        contact, _ = ContactStore().upsert_by_email(email, fields)
        return contact
    now = clock.iso()
    contact_id = "c_no_email"
    aws_clients.client("dynamodb").put_item(TableName=config.contacts_table(), Item=to_item({
        "pk": f"CONTACT#{contact_id}", "sk": "PROFILE", "id": contact_id, "fields": fields, "tags": [],
        "unsubscribed": [], "created_at": now, "updated_at": now, "version": 1}))
    return ContactStore().require(contact_id)


def shipped_template(name: str) -> None:
    """GIVEN the email template content/templates/<name>.yaml is pushed to the content store."""
    ContentStore().put("TEMPLATE", name, yaml.safe_load((ROOT / f"content/templates/{name}.yaml").read_text()))


def enrolled(contact: Contact, event: dict[str, Any], trigger: dict[str, Any]) -> None:
    """GIVEN the contact was enrolled (into the event's map) by ``trigger``."""
    ContactStore().create_enrollment(contact.id, event["map_id"], event["enrollment_id"], trigger)


def task_event(fixture: str, contact: Contact, **changes: Any) -> dict[str, Any]:
    """The fixture task event, for this contact, with ``changes`` (``settings=...`` replaces them)."""
    return {**load_event(fixture), "contact_id": contact.id, **changes}


def history(contact: Contact, *kinds: str) -> list[HistoryEntry]:
    return ContactStore().history(contact.id, kinds or None)
