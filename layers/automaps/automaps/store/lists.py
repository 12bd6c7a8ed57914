"""Email broadcast lists and fulfillment lists: memberships readable from either side.

Each membership is two items, written and deleted together in one transaction, so that both
"which lists is this contact on" and "who is on this list" are one Query, never a Scan::

    pk CONTACT#<contact id>   sk LIST#<name>         list, added_at                (broadcast)
    pk LIST#<name>            sk CONTACT#<contact id> contact_id, added_at
    pk CONTACT#<contact id>   sk FULFILL#<name>      list, added_at                (fulfillment)
    pk FULFILL#<name>         sk CONTACT#<contact id> contact_id, added_at, fields (the snapshot)

Adding is conditional on the contact-side item not existing (adding twice is one membership,
and the first snapshot stays); removing is conditional on it existing. A fulfillment list
keeps a snapshot of the contact's chosen fields as they were when the contact was added: what
the shipping house gets is what the map decided to send. A step's change is recorded in the same
transaction with the visit's marker (automaps.store.contacts.Effect); a conflicting writer is a
WriteConflict, retried.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from typing import Any, Literal

from botocore.exceptions import ClientError

from automaps import aws, clock, config
from automaps.store.contacts import (
    Effect,
    WriteConflict,
    effect_refused,
    effect_writes,
    is_conflict,
)
from automaps.store.content import from_item, to_item

Kind = Literal["list", "fulfillment"]
PREFIXES: dict[str, str] = {"list": "LIST#", "fulfillment": "FULFILL#"}
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
NAME_RULE = "1 to 100 letters, digits, '_', '.' or '-', starting with a letter or digit (e.g. vip-customers)"
FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def check_name(name: str) -> str:
    if not NAME.match(name or ""):
        raise ValueError(f"list name {name!r} is not allowed; use {NAME_RULE}")
    return name


def _contact_key(kind: Kind, name: str, contact_id: str) -> dict[str, Any]:
    return to_item({"pk": f"CONTACT#{contact_id}", "sk": f"{PREFIXES[kind]}{name}"})


def _list_key(kind: Kind, name: str, contact_id: str) -> dict[str, Any]:
    return to_item({"pk": f"{PREFIXES[kind]}{name}", "sk": f"CONTACT#{contact_id}"})


def _cancelled_by_condition(error: ClientError) -> bool:
    reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
    return (
        error.response.get("Error", {}).get("Code") == "TransactionCanceledException"
        and bool(reasons)
        and reasons[0] == "ConditionalCheckFailed"
    )


class ListStore:
    def __init__(self, table: str | None = None) -> None:
        self.table = table or config.contacts_table()

    @property
    def _db(self) -> Any:
        return aws.client("dynamodb")

    def add(
        self,
        kind: Kind,
        name: str,
        contact_id: str,
        fields: dict[str, Any] | None = None,
        effect: Effect | None = None,
        detail: dict[str, Any] | None = None,
    ) -> bool:
        """Add the contact (with its ``fields`` snapshot, for fulfillment); False if already on it.
        With ``effect``, recorded (``detail``, by default ``{"list": name}``) in the same transaction."""
        at = clock.iso()
        member = {"contact_id": contact_id, "added_at": at, **({"fields": fields} if fields is not None else {})}
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "ConditionExpression": "attribute_not_exists(pk)",
                            "Item": {**_contact_key(kind, name, contact_id), **to_item({"list": name, "added_at": at})},
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": {**_list_key(kind, name, contact_id), **to_item(member)},
                        }
                    },
                    *self._recorded(contact_id, effect, detail or {"list": name}),
                ]
            )
        except ClientError as error:
            self._refused(error, effect)
            return False
        return True

    def remove(self, kind: Kind, name: str, contact_id: str, effect: Effect | None = None) -> bool:
        """Take the contact off the list; False when it was not on it. With ``effect``, recorded
        (``{"list": name}``) in the same transaction."""
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Delete": {
                            "TableName": self.table,
                            "Key": _contact_key(kind, name, contact_id),
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    },
                    {"Delete": {"TableName": self.table, "Key": _list_key(kind, name, contact_id)}},
                    *self._recorded(contact_id, effect, {"list": name}),
                ]
            )
        except ClientError as error:
            self._refused(error, effect)
            return False
        return True

    def _recorded(self, contact_id: str, effect: Effect | None, detail: dict[str, Any]) -> list[dict[str, Any]]:
        return effect_writes(self.table, contact_id, effect.visit, effect.entry(detail)) if effect else []

    @staticmethod
    def _refused(error: ClientError, effect: Effect | None) -> None:
        """Returns when the membership's own condition refused the write (already on / not on the
        list); raises WriteConflict for a conflict or this visit's marker, else the error."""
        if is_conflict(error):
            raise WriteConflict("the list membership met a concurrent write") from None
        if _cancelled_by_condition(error):
            return
        if effect is not None and error.response.get("Error", {}).get("Code") == "TransactionCanceledException":
            effect_refused(error, 3)
        raise error

    def members(self, kind: Kind, name: str) -> Iterator[dict[str, Any]]:
        """``{"contact_id", "added_at", ["fields"]}`` of every member, in contact id order, page by page."""
        pages = self._db.get_paginator("query").paginate(
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :contact)",
            ExpressionAttributeValues=to_item({":pk": f"{PREFIXES[kind]}{name}", ":contact": "CONTACT#"}),
        )
        for page in pages:
            for item in page["Items"]:
                plain = from_item(item)
                yield {k: v for k, v in plain.items() if k not in ("pk", "sk")}

    def lists_of(self, kind: Kind, contact_id: str) -> list[str]:
        pages = self._db.get_paginator("query").paginate(
            TableName=self.table,
            ConsistentRead=True,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues=to_item({":pk": f"CONTACT#{contact_id}", ":prefix": PREFIXES[kind]}),
        )
        return [from_item(item)["list"] for page in pages for item in page["Items"]]


# ---------------------------------------------------------------- CSV export


def safe_cell(value: Any) -> str:
    """A cell a spreadsheet shows as text: values starting with = + - @ (or a tab or carriage
    return) get a leading apostrophe, so they are never run as formulas (CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (dict, list)):
        text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    else:
        text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(members: list[dict[str, Any]]) -> str:
    """Header ``contact_id, added_at, <fields in the order they first appear>``, one row per member."""
    columns: list[str] = []
    for member in members:
        for name in member.get("fields") or {}:
            if name not in columns:
                columns.append(name)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["contact_id", "added_at", *(safe_cell(c) for c in columns)])
    for member in members:
        fields = member.get("fields") or {}
        writer.writerow(
            [
                safe_cell(member["contact_id"]),
                safe_cell(member["added_at"]),
                *(safe_cell(fields.get(c)) for c in columns),
            ]
        )
    return out.getvalue()
