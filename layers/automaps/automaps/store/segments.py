"""Segments: named conditions (content/segments/*.yaml) and who is in them now.

A segment's definition is content (``SEGMENT#<id>`` / ``SEGMENT`` in the content table, pushed
by ``automaps push``). Its membership lives in the contacts table, readable from either side,
the two items written or deleted together with a counter shard and the history entry of the
transition, in one transaction::

    pk CONTACT#<contact id>   sk SEGMENT#<segment id>   segment, entered_at, cause
    pk SEGMENT#<segment id>   sk CONTACT#<contact id>   contact_id, entered_at
    pk SEGMENT#<segment id>   sk COUNT#<shard>          members (ADD +1 / -1; COUNTER_SHARDS shards)
    pk CONTACT#<contact id>   sk H#<time>#<digest>      segment.entered / segment.exited (detail segment)
    pk DUE#<yyyy-mm-ddThh>#<n> sk <at>#<segment>#<contact>  the sweep's: when time alone may change a verdict
    pk SWEEP                  sk STATE                  through (the hour the last complete sweep reached)
    pk SEGFILL#<segment id>   sk <version>              page, done, evaluated (the fill of that definition)

Listing a segment's members is a Query of its ``CONTACT#`` items (reads proportional to its
size); its count is one Query of its ``COUNT#`` shards (never a Scan). Entering is conditional on
the contact-side item's absence, exiting on its presence, and the history entry's sort key is a
digest of the transition and its cause (the routed entry's sort key): the same entry routed twice
changes membership once and records it once.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from automaps import aws, clock, config
from automaps.conditions.model import Condition
from automaps.store.contacts import (
    HISTORY_PREFIX,
    HistoryEntry,
    WriteConflict,
    _history_item,
    _sortable,
    is_conflict,
)
from automaps.store.content import from_item, to_item

SEGMENT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")
CONTENT_KIND = "SEGMENT"
PREFIX = "SEGMENT#"
COUNTER_SHARDS = 16
"""Counter items per segment: a segment's transitions spread their ADDs over this many items."""

Transition = Literal["entered", "exited"]
DUE_SHARDS = 4
"""Partitions per hour of the sweep's due items (the hour's re-evaluations spread over them)."""
DUE_TTL_DAYS = 3


class Due(BaseModel):
    """A contact whose verdict for a segment may change at ``at`` with no entry (the sweep's)."""

    segment: str
    contact_id: str
    at: datetime
    pk: str
    sk: str


def _fixed(at: datetime) -> str:
    """A UTC time that sorts as text (fixed width, microseconds always)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def due_partition(at: datetime, contact_id: str) -> str:
    return f"DUE#{at.astimezone(UTC):%Y-%m-%dT%H}#{_shard(contact_id) % DUE_SHARDS}"


class SegmentDefinition(BaseModel):
    """``{id, name?, condition}``: ``condition`` is a condition as in maps (all/any/not, every leaf)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=SEGMENT_ID.pattern, description="lowercase letters, digits and '-', e.g. active-buyers")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    condition: Condition

    def body(self) -> dict[str, Any]:
        """What the content table keeps (the condition in the model's JSON form, as maps carry it)."""
        from automaps.conditions.model import dump

        return {"id": self.id, **({"name": self.name} if self.name else {}), "condition": dump(self.condition)}


def validate(data: dict[str, Any]) -> SegmentDefinition:
    """A segment definition from its file's mapping; ValidationError names the field."""
    return SegmentDefinition.model_validate(data)


def _shard(contact_id: str) -> int:
    return int(hashlib.sha256(contact_id.encode()).hexdigest()[:8], 16) % COUNTER_SHARDS


def _keys(segment_id: str, contact_id: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    return (
        to_item({"pk": f"CONTACT#{contact_id}", "sk": f"{PREFIX}{segment_id}"}),
        to_item({"pk": f"{PREFIX}{segment_id}", "sk": f"CONTACT#{contact_id}"}),
        to_item({"pk": f"{PREFIX}{segment_id}", "sk": f"COUNT#{_shard(contact_id):02d}"}),
    )


def transition_entry_key(segment_id: str, transition: Transition, cause: str, at: datetime) -> str:
    """The history sort key of a transition caused by the entry ``cause``: the same every time
    for one cause, and after the cause's own suffix (transitions at one instant keep their causes'
    order)."""
    digest = hashlib.sha256(f"segment.{transition}\n{segment_id}\n{cause}".encode()).hexdigest()[:16]
    return f"{HISTORY_PREFIX}{_sortable(at)}#{cause.rsplit('#', 1)[-1][:40]}#{digest}"


class SegmentStore:
    def __init__(self, table: str | None = None) -> None:
        self.table = table or config.contacts_table()

    @property
    def _db(self) -> Any:
        return aws.client("dynamodb")

    def enter(
        self,
        segment_id: str,
        contact_id: str,
        cause: str,
        *,
        at: datetime | None = None,
        map_id: str | None = None,
        enrollment_id: str | None = None,
        fill: bool = False,
    ) -> HistoryEntry | None:
        """The contact enters the segment because of the entry ``cause``; None when already in it
        (or this cause's transition was recorded). ``map_id``/``enrollment_id``: the step that
        wrote the cause (a chain of maps stays bounded through segments). ``fill``: found by the
        fill of a newly pushed segment (detail ``fill: true``: starts no segment_entered map)."""
        return self._transition("entered", segment_id, contact_id, cause, at, map_id, enrollment_id, fill)

    def exit(
        self,
        segment_id: str,
        contact_id: str,
        cause: str,
        *,
        at: datetime | None = None,
        map_id: str | None = None,
        enrollment_id: str | None = None,
        fill: bool = False,
    ) -> HistoryEntry | None:
        """The contact leaves the segment; None when not in it (or this cause's exit was recorded)."""
        return self._transition("exited", segment_id, contact_id, cause, at, map_id, enrollment_id, fill)

    def _transition(
        self,
        transition: Transition,
        segment_id: str,
        contact_id: str,
        cause: str,
        at: datetime | None,
        map_id: str | None,
        enrollment_id: str | None,
        fill: bool = False,
    ) -> HistoryEntry | None:
        when = at or clock.now()
        contact_key, segment_key, counter_key = _keys(segment_id, contact_id)
        entry = HistoryEntry(
            at=when,
            kind=f"segment.{transition}",
            detail={"segment": segment_id, **({"fill": True} if fill else {})},
            map_id=map_id,
            enrollment_id=enrollment_id,
        )
        sort_key = transition_entry_key(segment_id, transition, cause, when)
        history = {
            **_history_item(contact_id, entry),
            **to_item({"sk": sort_key, "ksk": f"{entry.kind}#{sort_key.removeprefix(HISTORY_PREFIX)}"}),
        }
        stamp = clock.iso(when)
        membership: list[dict[str, Any]]
        if transition == "entered":
            membership = [
                {
                    "Put": {
                        "TableName": self.table,
                        "ConditionExpression": "attribute_not_exists(pk)",
                        "Item": {
                            **contact_key,
                            **to_item({"segment": segment_id, "entered_at": stamp, "cause": cause}),
                        },
                    }
                },
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": {**segment_key, **to_item({"contact_id": contact_id, "entered_at": stamp})},
                    }
                },
            ]
        else:
            membership = [
                {
                    "Delete": {
                        "TableName": self.table,
                        "Key": contact_key,
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
                {"Delete": {"TableName": self.table, "Key": segment_key}},
            ]
        counter = {
            "Update": {
                "TableName": self.table,
                "Key": counter_key,
                "UpdateExpression": "ADD members :change",
                "ExpressionAttributeValues": to_item({":change": 1 if transition == "entered" else -1}),
            }
        }
        record = {"Put": {"TableName": self.table, "Item": history, "ConditionExpression": "attribute_not_exists(pk)"}}
        try:
            self._db.transact_write_items(TransactItems=[*membership, counter, record])
        except ClientError as error:
            if is_conflict(error):
                raise WriteConflict(f"segment {segment_id} membership met a concurrent write") from None
            codes = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
            if error.response.get("Error", {}).get("Code") == "TransactionCanceledException" and (
                "ConditionalCheckFailed" in codes
            ):
                return None
            raise
        return entry

    def segments_of(self, contact_id: str) -> set[str]:
        """The segments the contact is in now (one strongly consistent Query)."""
        pages = self._db.get_paginator("query").paginate(
            TableName=self.table,
            ConsistentRead=True,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues=to_item({":pk": f"CONTACT#{contact_id}", ":prefix": PREFIX}),
        )
        return {str(from_item(item)["segment"]) for page in pages for item in page["Items"]}

    def members(self, segment_id: str, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """``{"contact_id", "entered_at"}`` of the members, in contact id order, page by page."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :contact)",
            "ExpressionAttributeValues": to_item({":pk": f"{PREFIX}{segment_id}", ":contact": "CONTACT#"}),
        }
        if limit is not None:
            params["PaginationConfig"] = {"MaxItems": limit, "PageSize": min(limit, 1000)}
        for page in self._db.get_paginator("query").paginate(**params):
            for item in page["Items"]:
                plain = from_item(item)
                yield {"contact_id": plain["contact_id"], "entered_at": plain["entered_at"]}

    def due(self, segment_id: str, contact_id: str, at: datetime) -> None:
        """Ask the sweep to re-evaluate the contact for the segment at ``at`` (one small Put, kept
        ``DUE_TTL_DAYS`` past its hour; a second ask for the same moment is the same item)."""
        item = {
            "pk": due_partition(at, contact_id),
            "sk": f"{_fixed(at)}#{segment_id}#{contact_id}",
            "segment": segment_id,
            "contact_id": contact_id,
            "at": clock.iso(at),
            "expiration": int(at.timestamp()) + DUE_TTL_DAYS * 86400,
        }
        self._db.put_item(TableName=self.table, Item=to_item(item))

    def due_by(self, hour: datetime, now: datetime) -> Iterator[Due]:
        """The due items of ``hour`` (its UTC hour) whose moment is ``now`` or earlier, shard by shard."""
        for shard in range(DUE_SHARDS):
            pages = self._db.get_paginator("query").paginate(
                TableName=self.table,
                KeyConditionExpression="pk = :pk AND sk <= :now",
                ExpressionAttributeValues=to_item(
                    {":pk": f"DUE#{hour.astimezone(UTC):%Y-%m-%dT%H}#{shard}", ":now": _fixed(now) + "#~"}
                ),
            )
            for page in pages:
                for item in page["Items"]:
                    plain = from_item(item)
                    yield Due(
                        segment=plain["segment"],
                        contact_id=plain["contact_id"],
                        at=datetime.fromisoformat(plain["at"]),
                        pk=plain["pk"],
                        sk=plain["sk"],
                    )

    def claim_fill(self, segment_id: str, version: str) -> bool:
        """The first to ask fills this version of the segment (a conditional Put); False: asked before."""
        try:
            self._db.put_item(
                TableName=self.table,
                Item=to_item(
                    {"pk": f"SEGFILL#{segment_id}", "sk": version, "page": 0, "done": False, "at": clock.iso()}
                ),
                ConditionExpression="attribute_not_exists(pk)",
            )
            return True
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False

    def fill_page_done(
        self, segment_id: str, version: str, page: int, following: dict[str, Any] | None, members: int
    ) -> bool:
        """Count page ``page`` of the fill once (conditional on it being the next), keeping where the
        next page starts (``following``; None: the last page); False: counted before."""
        try:
            self._db.update_item(
                TableName=self.table,
                Key=to_item({"pk": f"SEGFILL#{segment_id}", "sk": version}),
                UpdateExpression="SET #page = :next, #done = :last, #cursor = :cursor ADD #evaluated :members",
                ConditionExpression="#page = :page",
                ExpressionAttributeNames={
                    "#page": "page",
                    "#done": "done",
                    "#evaluated": "evaluated",
                    "#cursor": "cursor",
                },
                ExpressionAttributeValues=to_item(
                    {
                        ":page": page,
                        ":next": page + 1,
                        ":last": following is None,
                        ":members": members,
                        ":cursor": json.dumps(following, sort_keys=True) if following is not None else "",
                    }
                ),
            )
            return True
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False

    def fill_queued(self, segment_id: str, version: str, page: int) -> bool:
        """Note that page ``page``'s request is queued, once; False: an earlier delivery queued it."""
        try:
            self._db.update_item(
                TableName=self.table,
                Key=to_item({"pk": f"SEGFILL#{segment_id}", "sk": version}),
                UpdateExpression="SET #queued = :page",
                ConditionExpression="attribute_not_exists(#queued) OR #queued < :page",
                ExpressionAttributeNames={"#queued": "queued"},
                ExpressionAttributeValues=to_item({":page": page}),
            )
            return True
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False

    def fill_state(self, segment_id: str, version: str) -> dict[str, Any] | None:
        item = self._db.get_item(
            TableName=self.table, Key=to_item({"pk": f"SEGFILL#{segment_id}", "sk": version}), ConsistentRead=True
        ).get("Item")
        return from_item(item) if item else None

    def profiles(self, start: dict[str, Any] | None, limit: int) -> tuple[list[str], dict[str, Any] | None]:
        """One Scan page of the table's PROFILE items (``limit`` items read): their contact ids."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "Limit": max(1, limit),
            "FilterExpression": "sk = :profile",
            "ProjectionExpression": "pk",
            "ExpressionAttributeValues": to_item({":profile": "PROFILE"}),
        }
        if start:
            params["ExclusiveStartKey"] = start
        answer = self._db.scan(**params)
        ids = [str(from_item(item)["pk"]).removeprefix("CONTACT#") for item in answer["Items"]]
        return ids, answer.get("LastEvaluatedKey")

    def swept_through(self) -> datetime | None:
        """The hour the last complete sweep reached (its due items up to then are done)."""
        item = self._db.get_item(TableName=self.table, Key=to_item({"pk": "SWEEP", "sk": "STATE"})).get("Item")
        return datetime.fromisoformat(str(from_item(item)["through"])) if item else None

    def mark_swept(self, hour: datetime) -> None:
        self._db.put_item(
            TableName=self.table, Item=to_item({"pk": "SWEEP", "sk": "STATE", "through": clock.iso(hour)})
        )

    def done(self, due: Due) -> None:
        self._db.delete_item(TableName=self.table, Key=to_item({"pk": due.pk, "sk": due.sk}))

    def count(self, segment_id: str) -> int:
        """How many contacts are in the segment: the sum of its counter shards (one small Query)."""
        pages = self._db.get_paginator("query").paginate(
            TableName=self.table,
            ConsistentRead=True,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :count)",
            ExpressionAttributeValues=to_item({":pk": f"{PREFIX}{segment_id}", ":count": "COUNT#"}),
        )
        return sum(int(from_item(item).get("members", 0)) for page in pages for item in page["Items"])
