"""Enrollment: which maps a trigger starts, the entry rules, and idempotent starts.

The map registry (``MAP#<id>`` items in the content table, written by ``automaps push``) says
which triggers start which state machine and with which entry rule. Starting is idempotent
twice over: the enrollment id and the execution name derive from (contact, map, submission),
so a re-posted submission finds its own entry and Step Functions refuses a second execution
with the same name and input.

Entry rules are enforced with one conditional write on the contact's ``ENTRY#<map>`` item:
``never`` (once in a lifetime), ``after_exit`` (again only once the last run has exited) and
``always``, each optionally with ``min_interval`` between two entries.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, Field

from automaps import aws, clock, config
from automaps.content import ContentStore, from_item, to_item


class Trigger(BaseModel):
    """A normalised trigger: ``form_submitted`` + form id, ``tag_added`` + tag, ..."""

    type: str
    key: str


class EntryRule(BaseModel):
    reenter: Literal["never", "after_exit", "always"] = "after_exit"
    min_interval_seconds: int = 0


class MapRecord(BaseModel):
    """What the registry keeps of a deployed map."""

    id: str
    state_machine_arn: str
    version: str
    triggers: list[Trigger]
    entry: EntryRule = Field(default_factory=EntryRule)


class EnrollResult(BaseModel):
    map_id: str
    enrollment_id: str
    outcome: Literal["enrolled", "duplicate", "skipped"]
    reason: str | None = None


def registered_maps() -> list[MapRecord]:
    return [MapRecord.model_validate(body) for _, body in sorted(ContentStore().list("MAP").items())]


def register(record: MapRecord) -> None:
    ContentStore().put("MAP", record.id, record.model_dump(mode="json"))


def enroll_matching(trigger: Trigger, contact_id: str, event: dict, cause_id: str) -> list[EnrollResult]:
    """Enroll the contact in every registered map that ``trigger`` starts."""
    return [enroll(record, contact_id, event, cause_id)
            for record in registered_maps() if trigger in record.triggers]


def enrollment_id_for(map_id: str, contact_id: str, cause_id: str) -> str:
    return "e_" + hashlib.sha256(f"{map_id}\n{contact_id}\n{cause_id}".encode()).hexdigest()[:24]


def execution_name(map_id: str, enrollment_id: str) -> str:
    """Deterministic, at most 80 characters of [A-Za-z0-9-_]."""
    return f"{map_id[:50]}-{enrollment_id}"


def enroll(record: MapRecord, contact_id: str, event: dict, cause_id: str) -> EnrollResult:
    from automaps.contacts import ContactStore

    enrollment_id = enrollment_id_for(record.id, contact_id, cause_id)
    store = ContactStore()
    refused = _claim_entry(contact_id, record, enrollment_id)
    if refused == "duplicate":
        _start(record, contact_id, enrollment_id)  # finishes a start an earlier attempt may have missed
        return EnrollResult(map_id=record.id, enrollment_id=enrollment_id, outcome="duplicate",
                            reason="this submission already enrolled the contact")
    if refused:
        store.record(contact_id, "map.enroll_skipped", {"reason": refused, "enrollment_id": enrollment_id},
                     map_id=record.id)
        return EnrollResult(map_id=record.id, enrollment_id=enrollment_id, outcome="skipped", reason=refused)
    store.create_enrollment(contact_id, record.id, enrollment_id, event)
    execution_arn = _start(record, contact_id, enrollment_id)
    store.set_execution_arn(contact_id, record.id, enrollment_id, execution_arn)
    store.record(contact_id, "map.enrolled", {"enrollment_id": enrollment_id, "version": record.version,
                                              "trigger": event.get("type")}, map_id=record.id)
    return EnrollResult(map_id=record.id, enrollment_id=enrollment_id, outcome="enrolled")


def release(contact_id: str, map_id: str, enrollment_id: str) -> None:
    """The enrollment has exited: under ``after_exit`` the contact may enter again."""
    try:
        aws.client("dynamodb").update_item(
            TableName=config.contacts_table(), Key=to_item(_entry_key(contact_id, map_id)),
            UpdateExpression="SET active = :none", ConditionExpression="active = :me",
            ExpressionAttributeValues=to_item({":none": "", ":me": enrollment_id}))
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


def active_enrollment(contact_id: str, map_id: str) -> str | None:
    """The enrollment holding the contact in ``map_id`` now (the entry gate's ``active``), if any."""
    item = aws.client("dynamodb").get_item(TableName=config.contacts_table(), ConsistentRead=True,
                                           Key=to_item(_entry_key(contact_id, map_id))).get("Item")
    return (from_item(item).get("active") or None) if item else None


def _entry_key(contact_id: str, map_id: str) -> dict[str, str]:
    return {"pk": f"CONTACT#{contact_id}", "sk": f"ENTRY#{map_id}"}


def _claim_entry(contact_id: str, record: MapRecord, enrollment_id: str) -> str | None:
    """Take the contact's entry into the map in one conditional write. Returns None when taken,
    "duplicate" when this enrollment already holds it, else the reason entry is refused."""
    now = clock.now()
    rule = record.entry
    conditions = ["(attribute_not_exists(last_enrollment) OR last_enrollment <> :me)"]
    values: dict[str, object] = {":me": enrollment_id, ":at": clock.iso(now), ":one": 1}
    if rule.reenter == "never":
        conditions.append("attribute_not_exists(pk)")
    elif rule.reenter == "after_exit":
        conditions.append("(attribute_not_exists(active) OR active = :none)")
        values[":none"] = ""
    if rule.min_interval_seconds:
        conditions.append("(attribute_not_exists(last_started_at) OR last_started_at <= :cutoff)")
        values[":cutoff"] = clock.iso(now - timedelta(seconds=rule.min_interval_seconds))
    try:
        aws.client("dynamodb").update_item(
            TableName=config.contacts_table(), Key=to_item(_entry_key(contact_id, record.id)),
            UpdateExpression="SET active = :me, last_enrollment = :me, last_started_at = :at ADD entries :one",
            ConditionExpression=" AND ".join(conditions), ExpressionAttributeValues=to_item(values))
        return None
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
    return _refusal(contact_id, record, enrollment_id)


def _refusal(contact_id: str, record: MapRecord, enrollment_id: str) -> str:
    found = aws.client("dynamodb").get_item(TableName=config.contacts_table(),
                                           Key=to_item(_entry_key(contact_id, record.id)),
                                           ConsistentRead=True).get("Item")
    entry = from_item(found) if found else {}
    if entry.get("last_enrollment") == enrollment_id:
        return "duplicate"
    if record.entry.reenter == "never":
        return "the map admits a contact once (entry: never) and this contact has been in it"
    if record.entry.reenter == "after_exit" and entry.get("active"):
        return "the contact is still inside the map (entry: after_exit)"
    return (f"the contact entered less than {record.entry.min_interval_seconds} s ago "
            f"(entry min_interval), last at {entry.get('last_started_at')}")


def _start(record: MapRecord, contact_id: str, enrollment_id: str) -> str:
    name = execution_name(record.id, enrollment_id)
    payload = json.dumps({"contact_id": contact_id, "enrollment_id": enrollment_id, "map_id": record.id},
                         sort_keys=True)
    sfn = aws.client("stepfunctions")
    try:
        return sfn.start_execution(stateMachineArn=record.state_machine_arn, name=name, input=payload)["executionArn"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ExecutionAlreadyExists":
            raise
        return record.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"
