"""What the trigger specifications share: maps on moto that do nothing, contacts, entries written
the way the stores write them, and the router called as the stream's function calls it."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from automaps import aws as aws_clients
from automaps import clock
from automaps.journeys import router
from automaps.journeys import triggers as routing
from automaps.journeys.enrollment import EntryRule, MapRecord, Trigger, register
from automaps.store.contacts import ContactStore, HistoryEntry, _history_item
from pydantic import TypeAdapter

from automaps.maps.triggers import Trigger as TriggerModel

PASS_MACHINE = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}


def a_map(map_id: str, *triggers: dict[str, Any], reenter: str = "after_exit", min_interval: int = 0) -> str:
    """GIVEN a deployed map with ``triggers`` (as written in a map file), registered as `automaps push` does."""
    arn = aws_clients.client("stepfunctions").create_state_machine(
        name=f"automaps-{map_id}", definition=json.dumps(PASS_MACHINE),
        roleArn="arn:aws:iam::123456789012:role/automaps")["stateMachineArn"]
    models = [TypeAdapter(TriggerModel).validate_python(t) for t in triggers]
    register(MapRecord(
        id=map_id, state_machine_arn=arn, version="v1",
        triggers=[Trigger(type=m.kind, key=m.key, spec=m.spec(), only_if=m.only_if_spec()) for m in models],
        entry=EntryRule(reenter=reenter, min_interval_seconds=min_interval)))  # type: ignore[arg-type]
    routing.forget_registry()
    return arn


def a_contact(email: str, fields: dict[str, Any] | None = None, tags: tuple[str, ...] = ()) -> str:
    contact, _ = ContactStore().upsert_by_email(email, fields or {}, tags)
    return contact.id


def written(contact_id: str, entry: dict[str, Any], at: datetime | None = None) -> tuple[str, HistoryEntry]:
    """An entry on the contact's history, written as the stores write it; returns its sort key."""
    history = HistoryEntry(at=at or clock.now(), **entry)
    item = _history_item(contact_id, history)
    aws_clients.client("dynamodb").put_item(TableName="automaps-ContactsTable", Item=item)
    return item["sk"]["S"], history


def routed(contact_id: str, entry: dict[str, Any], at: datetime | None = None) -> str:
    """WHEN the entry is written: the contacts table's stream hands it to RouteEventsFunction
    (in-process, after the write), whose router matches the triggers."""
    sort_key, _ = written(contact_id, entry, at)
    return sort_key


def delivered_again(contact_id: str, sort_key: str, entry: dict[str, Any], at: datetime) -> None:
    """WHEN the stream delivers the same entry once more (at least once delivery)."""
    router.route_entry(contact_id, sort_key, HistoryEntry(at=at, **entry))


def enrollments(contact_id: str, map_id: str = "under-test") -> list[Any]:
    return ContactStore().enrollments(contact_id, map_id)


def history_kinds(contact_id: str, map_id: str | None = None) -> list[str]:
    return [h.kind for h in ContactStore().history(contact_id) if map_id is None or h.map_id == map_id]


def skipped(contact_id: str) -> list[HistoryEntry]:
    return [h for h in ContactStore().history(contact_id) if h.kind == "map.enroll_skipped"]
