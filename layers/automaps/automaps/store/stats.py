"""Counters of maps and steps, kept in the contacts table (docs/architecture.md, "Numbers per map and step").

Items (all numbers are DynamoDB numbers, moved only by ``ADD``)::

    pk STATS#<map id>         sk MAP                 map_id, entered, exited, exited:<reason>, updated_at
    pk STATS#<map id>         sk STEP#<step id>      map_id, step_id, channel (email|sms), done, skipped,
                                                     failed, unknown, deferred, waiting (a gauge: +1/-1),
                                                     sent, delivered, opens, opened (unique), clicks,
                                                     clicked (unique), bounced, complained, unsubscribed
    pk STATSBATCH#<stream>#<first sequence number>   sk BATCH   last (the last sequence number counted), TTL
    pk CONTACT#<contact id>   sk STAT#<kind>#<message id>       seq (the stream record that counted it first), TTL

A map's numbers are one Query of its ``STATS#`` partition (never a Scan). A batch of stream records
adds its deltas to each counter item once, in one ``TransactWriteItems`` with its batch marker:
the marker is keyed on the batch's first record and holds the last record counted, so a batch
the stream delivers again (it starts at the same record) counts only the records beyond it.
None of these keys begins with ``H#``: the stream's filter never routes them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from automaps import aws, clock, config
from automaps.store.content import from_item, to_item

PREFIX = "STATS#"
MAP_SK = "MAP"
STEP_PREFIX = "STEP#"
BATCH_PREFIX = "STATSBATCH#"
UNIQUE_PREFIX = "STAT#"
BATCH_TTL_SECONDS = 2 * 24 * 3600
"""Batch markers outlive the stream's 24 h retention: no record is delivered after its marker expires."""
UNIQUE_TTL_SECONDS = 400 * 24 * 3600
"""First-open/first-click markers: longer than anyone opens an email."""
MAX_ITEMS = 99
"""Counter items in one transaction (TransactWriteItems takes 100 actions; one is the marker)."""
SEQUENCE_WIDTH = 48
"""Sequence numbers (up to 40 digits) are kept zero-padded, so they compare as text."""


class StatsConflict(RuntimeError):
    """Another invocation counted the same batch at the same moment: read the marker again."""


def padded(sequence_number: str) -> str:
    return sequence_number.zfill(SEQUENCE_WIDTH)


def counter_key(map_id: str, step_id: str | None) -> dict[str, str]:
    return {"pk": f"{PREFIX}{map_id}", "sk": f"{STEP_PREFIX}{step_id}" if step_id else MAP_SK}


def batch_key(stream: str, first_sequence: str) -> dict[str, str]:
    digest = hashlib.sha256(stream.encode()).hexdigest()[:12]
    return {"pk": f"{BATCH_PREFIX}{digest}#{padded(first_sequence)}", "sk": "BATCH"}


class StatsStore:
    def __init__(self, table: str | None = None) -> None:
        self.table = table or config.contacts_table()
        self._db = aws.client("dynamodb")

    # ------------------------------------------------------------ counting

    def last_counted(self, stream: str, first_sequence: str) -> str | None:
        """The last sequence number a batch starting at ``first_sequence`` counted (None: none yet)."""
        found = self._db.get_item(
            TableName=self.table, Key=to_item(batch_key(stream, first_sequence)), ConsistentRead=True
        ).get("Item")
        return str(from_item(found)["last"]) if found else None

    def add(
        self,
        stream: str,
        first_sequence: str,
        last_sequence: str,
        previous: str | None,
        deltas: Mapping[tuple[str, str | None], Mapping[str, int]],
        channels: Mapping[tuple[str, str | None], str] | None = None,
    ) -> None:
        """Add ``deltas`` ((map, step) -> counter -> amount) to the counter items and move the batch
        marker from ``previous`` to ``last_sequence``, in one transaction. Raises StatsConflict when
        the marker is no longer ``previous`` (another invocation counted it meanwhile)."""
        if len(deltas) > MAX_ITEMS:
            raise ValueError(f"at most {MAX_ITEMS} counter items per transaction, not {len(deltas)}")
        now = clock.now()
        marker: dict[str, Any] = {
            "Update": {
                "TableName": self.table,
                "Key": to_item(batch_key(stream, first_sequence)),
                "UpdateExpression": "SET #last = :last, expiration = :expiration",
                "ConditionExpression": "attribute_not_exists(pk)" if previous is None else "#last = :previous",
                "ExpressionAttributeNames": {"#last": "last"},
                "ExpressionAttributeValues": to_item(
                    {
                        ":last": padded(last_sequence),
                        ":expiration": int(now.timestamp()) + BATCH_TTL_SECONDS,
                        **({":previous": padded(previous)} if previous is not None else {}),
                    }
                ),
            }
        }
        items = [marker]
        for (map_id, step_id), counts in sorted(deltas.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
            items.append(self._counter_update(map_id, step_id, counts, (channels or {}).get((map_id, step_id)), now))
        try:
            self._db.transact_write_items(TransactItems=items)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in (
                "TransactionCanceledException",
                "TransactionConflictException",
            ):
                raise StatsConflict(f"the batch from {first_sequence} was counted by another invocation") from None
            raise

    def _counter_update(
        self, map_id: str, step_id: str | None, counts: Mapping[str, int], channel: str | None, now: Any
    ) -> dict[str, Any]:
        names = {"#map": "map_id", "#updated": "updated_at"}
        values: dict[str, Any] = {":map": map_id, ":updated": clock.iso(now)}
        sets = ["#map = :map", "#updated = :updated"]
        if step_id:
            names["#step"], values[":step"] = "step_id", step_id
            sets.append("#step = :step")
        if channel:
            names["#channel"], values[":channel"] = "channel", channel
            sets.append("#channel = :channel")
        adds = []
        for i, (name, amount) in enumerate(sorted(counts.items())):
            names[f"#c{i}"], values[f":c{i}"] = name, amount
            adds.append(f"#c{i} :c{i}")
        expression = "SET " + ", ".join(sets) + (" ADD " + ", ".join(adds) if adds else "")
        return {
            "Update": {
                "TableName": self.table,
                "Key": to_item(counter_key(map_id, step_id)),
                "UpdateExpression": expression,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": to_item(values),
            }
        }

    def first_time(self, contact_id: str, kind: str, message_id: str, sequence: str) -> bool:
        """Whether the stream record ``sequence`` is the first ``kind`` of the message (its first
        open, its first click): one conditional Put, true again for the same record (a batch counted
        again after a crash before its count was written)."""
        try:
            self._db.put_item(
                TableName=self.table,
                Item=to_item(
                    {
                        "pk": f"CONTACT#{contact_id}",
                        "sk": f"{UNIQUE_PREFIX}{kind}#{message_id}",
                        "seq": padded(sequence),
                        "expiration": int(clock.now().timestamp()) + UNIQUE_TTL_SECONDS,
                    }
                ),
                ConditionExpression="attribute_not_exists(pk) OR seq = :seq",
                ExpressionAttributeValues=to_item({":seq": padded(sequence)}),
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    # ------------------------------------------------------------ reading

    def items_of(self, map_id: str) -> list[dict[str, Any]]:
        """The map's counter items (its ``STATS#`` partition: one Query, a page per 1 MB)."""
        pages = self._db.get_paginator("query").paginate(
            TableName=self.table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_item({":pk": f"{PREFIX}{map_id}"}),
        )
        return [from_item(item) for page in pages for item in page["Items"]]
