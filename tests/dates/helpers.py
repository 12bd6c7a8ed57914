"""What the date trigger specifications share: a registered map with one date trigger, contacts
with dates and timezones, and every occurrence of a day run in order."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from automaps.journeys import dates
from automaps.journeys import enrollment, triggers
from automaps.journeys.enrollment import MapRecord, Trigger
from automaps.store.content import ContentStore
from automaps.store.contacts import ContactStore, Effect


def date_map(kind: str, body: dict[str, Any], timezone: str | None = "Asia/Tokyo", map_id: str = "birthdays") -> tuple[MapRecord, Trigger]:
    """GIVEN a deployed map's registry record, started by one date trigger ``kind: body``, with
    the map's fallback ``timezone`` (written as ``register`` writes it, without its schedules:
    these tests run the occurrences themselves)."""
    key = body.get("field") or body.get("segment") or body.get("list")
    trigger = Trigger(type=kind, key=str(key), spec={"at": "09:00", "timezone": "contact", **body})
    record = MapRecord(id=map_id, state_machine_arn=f"arn:aws:states:us-east-1:123456789012:stateMachine:{map_id}",
                       version="v1", triggers=[trigger], timezone=timezone)
    ContentStore().put("MAP", record.id, record.model_dump(mode="json"))
    triggers.forget_registry()
    enrollment._cached.clear()
    return record, trigger


def contact(email: str, **fields: Any) -> str:
    """GIVEN a contact created with ``fields`` (its contact.created entry is routed)."""
    created, _ = ContactStore().upsert_by_email(email, fields)
    return created.id


def update(contact_id: str, set: dict[str, Any] | None = None, clear: tuple[str, ...] = ()) -> None:
    """WHEN a map's update_contact step changes fields: the change and its contact.updated entry
    are one transaction (as the action writes them), and the stream routes the entry."""
    ContactStore().update_fields(contact_id, set or {}, clear,
                                 effect=Effect(visit=f"test-{secrets.token_hex(8)}", kind="contact.updated"))


def occurrences(day: datetime, hours: int = 24, phase: int = 0) -> list[datetime]:
    """The scheduled times of a date trigger's schedule from ``day`` (midnight UTC) for ``hours``."""
    start = day.replace(hour=0, minute=phase, second=0, microsecond=0, tzinfo=UTC)
    return [start + timedelta(minutes=15 * i) for i in range(hours * 4)]


def reached(record: MapRecord, trigger: Trigger, times: list[datetime], limit: int = 100) -> list[tuple[str, str, str]]:
    """Run each occurrence's pages to the end: (contact id, occurrence time, cause id) reached."""
    found = []
    for at in times:
        cursor: dict | None = None
        while True:
            page = dates.page(record, trigger, at, cursor, limit)
            found += [(member, at.strftime("%Y-%m-%dT%H:%MZ"), cause) for member, cause in page.members]
            if page.cursor is None:
                break
            cursor = page.cursor
    return found


def when(found: list[tuple[str, str, str]], contact_id: str) -> list[str]:
    """The occurrence times that reached the contact."""
    return [at for member, at, _ in found if member == contact_id]
