"""The date index: who has which date in a date field, by month-day, zone and shard.

The date triggers (``date_matches``, ``date_relative``; automaps.journeys.dates) must not scan
the contacts every day, so each contact's value of every date field a registered date trigger
reads is kept as one index item, next to a contact-side item saying what is indexed (to delete
the old index item when the date or the timezone changes)::

    pk CONTACT#<contact id>                    sk DATEIDX#<field>                        field, date, group
    pk DATE#<field>#<MM-DD>#<shard>            sk <group>#<YYYY-MM-DD>#<contact id>      contact_id, date, group
    pk DATEZONES                               sk <zone>                                 (the zones in use)
    pk DATEFIELD                               sk <field>                                ready_at (backfilled)
    pk DATEIS#<map>#<cause>                    sk <date>                                 groups (a date_is audience's zones)

``group`` is the contact's own timezone (an IANA name) or ``-`` (none: the map's fallback, or
the trigger's fixed zone, applies at reading time). ``shard`` is a hash of the contact id into
:data:`SHARDS` partitions, so no date's partition takes a day's load: 1,000,000 contacts are
about 2,740 a month-day (0.4 per shard per zone), and even a million renewals on one date spread
over :data:`SHARDS` partitions. An occurrence reads ``DATE#<field>#<MM-DD>#<shard>`` with
``begins_with(sk, "<group>#")`` (yearly) or ``"<group>#<YYYY-MM-DD>"`` (an exact date): only the
contacts due. A change writes the contact-side item (conditional on what was read), deletes the
old index item and puts the new one in one transaction.
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any, NamedTuple

from botocore.exceptions import ClientError

from automaps import aws, clock, config
from automaps.store.contacts import WriteConflict
from automaps.store.content import from_item, to_item

SHARDS = 8
"""Index partitions per (field, month-day): a contact's shard is a hash of its id."""
INDEX_PREFIX = "DATE#"
CONTACT_PREFIX = "DATEIDX#"
ZONES_PK = "DATEZONES"
FIELDS_PK = "DATEFIELD"
NO_ZONE = "-"
"""The group of contacts without a (valid) timezone of their own."""


class Indexed(NamedTuple):
    """What is indexed of one contact's date field: the date (ISO) and the zone group."""

    field: str
    date: str
    group: str


def shard(contact_id: str) -> int:
    return int(hashlib.sha256(contact_id.encode()).hexdigest()[:8], 16) % SHARDS


def index_pk(field: str, month_day: str, shard_no: int) -> str:
    return f"{INDEX_PREFIX}{field}#{month_day}#{shard_no}"


def _index_key(contact_id: str, value: Indexed) -> dict[str, Any]:
    day = date.fromisoformat(value.date)
    return {
        "pk": index_pk(value.field, day.strftime("%m-%d"), shard(contact_id)),
        "sk": f"{value.group}#{value.date}#{contact_id}",
    }


def _contact_key(contact_id: str, field: str) -> dict[str, Any]:
    return {"pk": f"CONTACT#{contact_id}", "sk": f"{CONTACT_PREFIX}{field}"}


class DateIndexStore:
    def __init__(self, table: str | None = None) -> None:
        self.table = table or config.contacts_table()

    @property
    def _db(self) -> Any:
        return aws.client("dynamodb")

    def indexed(self, contact_id: str) -> dict[str, Indexed]:
        """The contact's indexed date fields (one strongly consistent Query)."""
        pages = self._db.get_paginator("query").paginate(
            TableName=self.table,
            ConsistentRead=True,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues=to_item({":pk": f"CONTACT#{contact_id}", ":prefix": CONTACT_PREFIX}),
        )
        found = {}
        for page in pages:
            for item in page["Items"]:
                plain = from_item(item)
                found[str(plain["field"])] = Indexed(str(plain["field"]), str(plain["date"]), str(plain["group"]))
        return found

    def change(self, contact_id: str, field: str, old: Indexed | None, new: Indexed | None) -> None:
        """Move the contact's index item for ``field`` from ``old`` (None: none) to ``new`` (None:
        none), in one transaction conditional on the contact-side item being ``old``. Raises
        WriteConflict when it is not (another writer moved it: route the entry again)."""
        if old == new:
            return
        writes: list[dict[str, Any]] = []
        contact_key = to_item(_contact_key(contact_id, field))
        if old is None:
            guard: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(sk)"}
        else:
            guard = {
                "ConditionExpression": "#d = :d AND #g = :g",
                "ExpressionAttributeNames": {"#d": "date", "#g": "group"},
                "ExpressionAttributeValues": to_item({":d": old.date, ":g": old.group}),
            }
        if new is None:
            writes.append({"Delete": {"TableName": self.table, "Key": contact_key, **guard}})
        else:
            item = {**_contact_key(contact_id, field), "field": field, "date": new.date, "group": new.group}
            writes.append({"Put": {"TableName": self.table, "Item": to_item(item), **guard}})
        if old is not None:
            writes.append({"Delete": {"TableName": self.table, "Key": to_item(_index_key(contact_id, old))}})
        if new is not None:
            index = {**_index_key(contact_id, new), "contact_id": contact_id, "date": new.date, "group": new.group}
            writes.append({"Put": {"TableName": self.table, "Item": to_item(index)}})
        try:
            self._db.transact_write_items(TransactItems=writes)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                raise WriteConflict(f"contact {contact_id}: its {field} index item changed meanwhile") from None
            raise

    def query(
        self, pk: str, prefix: str, start: dict[str, Any] | None, limit: int
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One page of an index partition (``prefix``: the sort key's start, "" for all)."""
        params: dict[str, Any] = {"TableName": self.table, "Limit": max(1, limit)}
        if prefix:
            params["KeyConditionExpression"] = "pk = :pk AND begins_with(sk, :prefix)"
            params["ExpressionAttributeValues"] = to_item({":pk": pk, ":prefix": prefix})
        else:
            params["KeyConditionExpression"] = "pk = :pk"
            params["ExpressionAttributeValues"] = to_item({":pk": pk})
        if start:
            params["ExclusiveStartKey"] = start
        answer = self._db.query(**params)
        return [from_item(item) for item in answer["Items"]], answer.get("LastEvaluatedKey")

    # ------------------------------------------------------------ the zones in use

    def zones(self) -> list[str]:
        """The timezones some indexed contact has (one Query; a zone no longer used stays listed)."""
        pages = self._db.get_paginator("query").paginate(
            TableName=self.table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_item({":pk": ZONES_PK}),
        )
        return sorted(str(from_item(item)["sk"]) for page in pages for item in page["Items"])

    def add_zone(self, zone: str) -> None:
        self._db.put_item(TableName=self.table, Item=to_item({"pk": ZONES_PK, "sk": zone}))

    # ------------------------------------------------------------ backfill of a newly read field

    def field_ready(self, field: str) -> bool:
        found = self._db.get_item(
            TableName=self.table, Key=to_item({"pk": FIELDS_PK, "sk": field}), ConsistentRead=True
        )
        return "Item" in found

    def mark_ready(self, field: str) -> None:
        self._db.put_item(TableName=self.table, Item=to_item({"pk": FIELDS_PK, "sk": field, "ready_at": clock.iso()}))

    def forget_field(self, field: str) -> None:
        """The next occurrence backfills ``field`` again (after it went unread by every map)."""
        self._db.delete_item(TableName=self.table, Key=to_item({"pk": FIELDS_PK, "sk": field}))

    def profiles(self, start: dict[str, Any] | None, limit: int) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One Scan page of the table's PROFILE items (``limit`` items evaluated)."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "Limit": max(1, limit),
            "FilterExpression": "sk = :profile",
            "ExpressionAttributeValues": to_item({":profile": "PROFILE"}),
        }
        if start:
            params["ExclusiveStartKey"] = start
        answer = self._db.scan(**params)
        return [from_item(item) for item in answer["Items"]], answer.get("LastEvaluatedKey")

    # ------------------------------------------------------------ audiences (date_is)

    def audience(self, pk: str, start: dict[str, Any] | None, limit: int) -> tuple[list[str], dict[str, Any] | None]:
        """One page of a segment's or list's member ids (``pk`` SEGMENT#<id> or LIST#<name>)."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "Limit": max(1, limit),
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :contact)",
            "ExpressionAttributeValues": to_item({":pk": pk, ":contact": "CONTACT#"}),
        }
        if start:
            params["ExclusiveStartKey"] = start
        answer = self._db.query(**params)
        ids = [str(from_item(item)["sk"]).removeprefix("CONTACT#") for item in answer["Items"]]
        return ids, answer.get("LastEvaluatedKey")

    def seen_groups(self, key: dict[str, Any]) -> set[str] | None:
        """The zone groups an earlier pass over a date_is audience saw (None: no pass finished)."""
        found = self._db.get_item(TableName=self.table, Key=to_item(key)).get("Item")
        return {str(g) for g in from_item(found).get("groups", [])} if found else None

    def add_seen_groups(self, key: dict[str, Any], groups: set[str], expiration: int) -> None:
        """Add ``groups`` to what the passes saw (a set union: concurrent passes add, never remove)."""
        self._db.update_item(
            TableName=self.table,
            Key=to_item(key),
            UpdateExpression="ADD #g :g SET #e = :e",
            ExpressionAttributeNames={"#g": "groups", "#e": "expiration"},
            ExpressionAttributeValues={":g": {"SS": sorted(groups)}, ":e": {"N": str(expiration)}},
        )

    def timezones_of(self, contact_ids: list[str]) -> dict[str, Any]:
        """Each contact's ``timezone`` field (None when unset), by BatchGetItem of the profiles."""
        found: dict[str, Any] = {contact_id: None for contact_id in contact_ids}
        for start in range(0, len(contact_ids), 100):
            keys = [to_item({"pk": f"CONTACT#{cid}", "sk": "PROFILE"}) for cid in contact_ids[start : start + 100]]
            request: dict[str, Any] = {
                self.table: {
                    "Keys": keys,
                    "ProjectionExpression": "id, #f.#t",
                    "ExpressionAttributeNames": {"#f": "fields", "#t": "timezone"},
                }
            }
            while request:
                answer = self._db.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self.table, []):
                    plain = from_item(item)
                    found[str(plain["id"])] = (plain.get("fields") or {}).get("timezone")
                request = answer.get("UnprocessedKeys") or {}
        return found
