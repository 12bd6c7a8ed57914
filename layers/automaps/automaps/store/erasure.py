"""Erasing a contact's items (GDPR/CCPA): every item under ``CONTACT#<id>``, the other side of
its memberships, its markers, and an audit item without personal data.

What goes (docs/architecture.md, "Erasure"):

    CONTACT#<id> / *                 profile (last), H# history, ENROLL#, ENTRY#, NOTE#, NOTEID#,
                                     TASK# (and so its GSI1 entry), DONE#, EFFECT#, PRODUCT#,
                                     PURCHASE#, OFFER#, COURSESUB#, ACCESS#, DATEIDX#, LIST#,
                                     FULFILL#, SEGMENT#: whatever is there
    LIST#<name> / CONTACT#<id>       the list side of a list membership (and FULFILL#<name>)
    SEGMENT#<seg> / CONTACT#<id>     the segment side, in one transaction with the contact side
                                     and the counter shard's ADD -1 (conditional on the contact
                                     side: a retry decrements nothing twice)
    DATE#<field>#<MM-DD>#<shard>     the date index item of each DATEIDX# item
    EMAIL#<address> / PHONE#<e164>   the markers, only while they still name this contact

and what is written: ``ERASED#<id>`` / ``ERASED`` (``at``, ``by``, ``counts`` per item kind,
``suppression``), written once (a second erasure answers the first one's audit). The profile is
deleted last, so an erasure cut short is finished by erasing again: it reads what is left.
Deletes reach the table's stream as REMOVE records, which the router's filter (INSERTs of H#
items) never takes: nothing is re-created from the deleted history.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any

from botocore.exceptions import ClientError

from automaps import aws, config
from automaps.store import dates
from automaps.store.contacts import PROFILE, normalise_email, normalise_phone
from automaps.store.content import from_item, to_item

AUDIT_PREFIX = "ERASED#"
MIRRORED = {"LIST#": "LIST#", "FULFILL#": "FULFILL#"}


def audit_key(contact_id: str) -> dict[str, str]:
    return {"pk": f"{AUDIT_PREFIX}{contact_id}", "sk": "ERASED"}


def kind_of(sort_key: str) -> str:
    """An item's kind for the audit's counts: ``H#2026-...`` -> ``H``, ``PROFILE`` -> ``PROFILE``."""
    return sort_key.split("#", 1)[0]


class Eraser:
    def __init__(self, table: str | None = None) -> None:
        self.table = table or config.contacts_table()

    @property
    def _db(self) -> Any:
        return aws.client("dynamodb")

    def audit(self, contact_id: str) -> dict[str, Any] | None:
        found = self._db.get_item(TableName=self.table, Key=to_item(audit_key(contact_id)), ConsistentRead=True)
        return from_item(found["Item"]) if "Item" in found else None

    def erase(self, contact_id: str, items: list[dict[str, Any]]) -> dict[str, int]:
        """Delete ``items`` (every item under the contact's key, as read) and what mirrors them,
        except the profile (:meth:`delete_profile`, after the audit); the counts by kind."""
        counts: dict[str, int] = {}
        profile = next((item for item in items if item["sk"] == PROFILE), None)
        for item in items:
            sk = str(item["sk"])
            if sk.startswith("SEGMENT#"):
                self._leave_segment(contact_id, sk.removeprefix("SEGMENT#"))
                counts["SEGMENT"] = counts.get("SEGMENT", 0) + 1
                continue
            for prefix in MIRRORED:
                if sk.startswith(prefix):
                    self._delete({"pk": sk, "sk": f"CONTACT#{contact_id}"})
            if sk.startswith(dates.CONTACT_PREFIX) and item.get("date") and item.get("field"):
                day = date.fromisoformat(str(item["date"]))
                self._delete(
                    {
                        "pk": dates.index_pk(str(item["field"]), day.strftime("%m-%d"), dates.shard(contact_id)),
                        "sk": f"{item.get('group') or dates.NO_ZONE}#{item['date']}#{contact_id}",
                    }
                )
        if profile is not None:
            fields = profile.get("fields") or {}
            for marker in _markers(fields):
                if self._delete_if_mine(marker, contact_id):
                    counts[kind_of(marker["pk"]) + "_MARKER"] = 1
        rest = [item for item in items if item["sk"] != PROFILE and not str(item["sk"]).startswith("SEGMENT#")]
        self._batch_delete([{"pk": item["pk"], "sk": item["sk"]} for item in rest])
        for item in rest:
            counts[kind_of(str(item["sk"]))] = counts.get(kind_of(str(item["sk"])), 0) + 1
        if profile is not None:
            counts["PROFILE"] = 1
        return counts

    def delete_profile(self, contact_id: str) -> None:
        """The erasure's last delete (after its audit item): until then, erasing again finishes it."""
        self._delete({"pk": f"CONTACT#{contact_id}", "sk": PROFILE})

    def write_audit(self, contact_id: str, record: dict[str, Any]) -> dict[str, Any]:
        """The audit item (no personal data), written once; the one that stands."""
        item = {**audit_key(contact_id), "contact_id": contact_id, **record}
        try:
            self._db.put_item(TableName=self.table, Item=to_item(item), ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            return self.audit(contact_id) or item
        return item

    # ---------------------------------------------------------------- internals

    def _leave_segment(self, contact_id: str, segment_id: str) -> None:
        from automaps.store import segments

        mine, theirs, counter = segments._keys(segment_id, contact_id)
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Delete": {
                            "TableName": self.table,
                            "Key": mine,
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    },
                    {"Delete": {"TableName": self.table, "Key": theirs}},
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": counter,
                            "UpdateExpression": "ADD members :minus",
                            "ExpressionAttributeValues": to_item({":minus": -1}),
                        }
                    },
                ]
            )
        except ClientError as exc:
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if reasons[:1] != ["ConditionalCheckFailed"]:  # (else: left already, by a first attempt)
                raise

    def _delete(self, key: dict[str, Any]) -> None:
        self._db.delete_item(TableName=self.table, Key=to_item(key))

    def _delete_if_mine(self, key: dict[str, Any], contact_id: str) -> bool:
        try:
            self._db.delete_item(
                TableName=self.table,
                Key=to_item(key),
                ConditionExpression="contact_id = :me",
                ExpressionAttributeValues=to_item({":me": contact_id}),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _batch_delete(self, keys: list[dict[str, Any]]) -> None:
        for start in range(0, len(keys), 25):
            requests = [{"DeleteRequest": {"Key": to_item(key)}} for key in keys[start : start + 25]]
            pending: dict[str, Any] = {self.table: requests}
            for attempt in range(8):
                answer = self._db.batch_write_item(RequestItems=pending)
                pending = answer.get("UnprocessedItems") or {}
                if not pending:
                    break
                time.sleep(min(1.0, 0.05 * 2**attempt))
            else:
                raise RuntimeError("DynamoDB kept items of the erasure unprocessed; erase again to finish")


def _markers(fields: dict[str, Any]) -> list[dict[str, str]]:
    markers = []
    try:
        if fields.get("email"):
            markers.append({"pk": f"EMAIL#{normalise_email(str(fields['email']))}", "sk": "EMAIL"})
    except ValueError:
        pass
    try:
        if fields.get("phone"):
            markers.append({"pk": f"PHONE#{normalise_phone(str(fields['phone']))}", "sk": "PHONE"})
    except ValueError:
        pass
    return markers
