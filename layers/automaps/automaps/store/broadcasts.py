"""A broadcast's progress: one run per (map, trigger, occurrence), counted once.

In the contacts table::

    pk BROADCAST#<map id>                        sk RUN#<at>#<trigger>   the run: pages, found, queued, done
    pk BROADCAST#<map id>#<at>#<trigger>#<shard> sk COUNT                started, skipped, failed (ADD)
    pk BROADCAST#<map id>#<at>#<trigger>         sk FAILED#<enrollment>  a dead-lettered request, once

The occurrence runner (automaps.journeys.broadcasts) writes the run item once per page, on the
condition that ``pages`` is that page's number, so a page handled twice counts once; pages are
handled one after another, so that item takes one write per page (per 1,000 members), never a
write per member. The outcomes come from the intake consumer, one per member: each goes to one of
``COUNTER_SHARDS`` counter items (by contact; each its own partition), in the same transaction as the history entry that
records it once (``map.enrolled`` / ``map.enroll_skipped``, keyed on the enrollment), so a request
delivered twice counts once and no single item or partition takes a broadcast's writes (at the
default 290 starts a second, about 36 transactional writes a second per shard).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel

from automaps import aws, clock, config
from automaps.store.content import from_item, to_item

COUNTER_SHARDS = 16
CONFLICT_ATTEMPTS = 3
RUN_TTL_SECONDS = 400 * 24 * 3600
"""A run's items expire (the contacts table's TTL, ``expiration``) 400 days after its occurrence."""
Outcome = Literal["started", "skipped", "failed"]


class RunKey(BaseModel):
    """Which run: the map, the trigger's id (automaps.journeys.schedules.trigger_id), the occurrence."""

    map_id: str
    trigger: str
    at: str

    @property
    def counters_pk(self) -> str:
        return f"BROADCAST#{self.map_id}#{self.at}#{self.trigger}"

    @property
    def expiration(self) -> int:
        return int(datetime.fromisoformat(self.at).timestamp()) + RUN_TTL_SECONDS


class Progress(BaseModel):
    map_id: str
    trigger: str
    at: str
    audience: str = ""
    pages: int = 0
    found: int = 0
    queued: int = 0
    started: int = 0
    skipped: int = 0
    failed: int = 0
    done: bool = False
    started_at: str | None = None
    updated_at: str | None = None

    @property
    def pending(self) -> int:
        """Queued and not yet started, skipped or failed (in the queue, or being retried)."""
        return max(0, self.queued - self.started - self.skipped - self.failed)


def _shard(contact_id: str) -> int:
    return int(hashlib.sha256(contact_id.encode()).hexdigest()[:8], 16) % COUNTER_SHARDS


def run_key_of(event: dict[str, Any], map_id: str) -> RunKey | None:
    """The run an enrollment request's event belongs to (an occurrence's), else None."""
    occurrence = event.get("occurrence")
    if not isinstance(occurrence, dict) or not occurrence.get("trigger") or not occurrence.get("at"):
        return None
    return RunKey(map_id=map_id, trigger=str(occurrence["trigger"]), at=str(occurrence["at"]))


class BroadcastStore:
    def __init__(self, table: str | None = None) -> None:
        self.table = table or config.contacts_table()

    @property
    def _db(self) -> Any:
        return aws.client("dynamodb")

    def _run_key(self, run: RunKey) -> dict[str, Any]:
        return to_item({"pk": f"BROADCAST#{run.map_id}", "sk": f"RUN#{run.at}#{run.trigger}"})

    def page_done(self, run: RunKey, page: int, members: int, *, last: bool, audience: str) -> bool:
        """Count page ``page`` (its ``members`` found and queued) once: False when it was counted
        before (a redelivered page)."""
        now = clock.iso(clock.now())
        values: dict[str, Any] = {
            ":next": page + 1,
            ":n": members,
            ":zero": 0,
            ":now": now,
            ":done": last,
            ":audience": audience,
            ":map": run.map_id,
            ":trigger": run.trigger,
            ":at": run.at,
            ":expiration": run.expiration,
        }
        condition = "#pages = :page" if page else "attribute_not_exists(#pages)"
        if page:
            values[":page"] = page
        fields = (
            "pages",
            "found",
            "queued",
            "done",
            "updated_at",
            "started_at",
            "audience",
            "map_id",
            "trigger",
            "at",
            "expiration",
        )
        try:
            self._db.update_item(
                TableName=self.table,
                Key=self._run_key(run),
                UpdateExpression=(
                    "SET #pages = :next, #found = if_not_exists(#found, :zero) + :n, "
                    "#queued = if_not_exists(#queued, :zero) + :n, #done = :done, #updated_at = :now, "
                    "#started_at = if_not_exists(#started_at, :now), #audience = :audience, "
                    "#map_id = :map, #trigger = :trigger, #at = :at, #expiration = :expiration"
                ),
                ConditionExpression=condition,
                ExpressionAttributeNames={f"#{name}": name for name in fields},
                ExpressionAttributeValues=to_item(values),
            )
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False

    def pages_counted(self, run: RunKey) -> int:
        found = self._db.get_item(TableName=self.table, Key=self._run_key(run), ConsistentRead=True).get("Item")
        return int(from_item(found).get("pages", 0)) if found else 0

    def counter_update(self, run: RunKey, contact_id: str, outcome: Outcome) -> dict[str, Any]:
        """The transaction item that adds one ``outcome`` to the contact's counter shard."""
        return {
            "Update": {
                "TableName": self.table,
                "Key": to_item({"pk": f"{run.counters_pk}#{_shard(contact_id):02d}", "sk": "COUNT"}),
                "UpdateExpression": "ADD #outcome :one SET #expiration = :expiration",
                "ExpressionAttributeNames": {"#outcome": outcome, "#expiration": "expiration"},
                "ExpressionAttributeValues": to_item({":one": 1, ":expiration": run.expiration}),
            }
        }

    def failed_once(self, run: RunKey, contact_id: str, enrollment_id: str, reason: str) -> bool:
        """A request given up on (dead-lettered): counted once per enrollment (a marker item)."""
        marker = {
            "Put": {
                "TableName": self.table,
                "Item": to_item(
                    {
                        "pk": run.counters_pk,
                        "sk": f"FAILED#{enrollment_id}",
                        "contact_id": contact_id,
                        "reason": reason[:500],
                        "at": clock.iso(clock.now()),
                        "expiration": run.expiration,
                    }
                ),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        return self._once([marker, self.counter_update(run, contact_id, "failed")])

    def progress(self, run: RunKey) -> Progress | None:
        found = self._db.get_item(TableName=self.table, Key=self._run_key(run), ConsistentRead=True).get("Item")
        return self._with_counts(from_item(found)) if found else None

    def runs(self, map_id: str, limit: int = 10) -> list[Progress]:
        """The map's most recent runs (newest occurrence first), each with its outcome counts."""
        found = self._db.query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :run)",
            ExpressionAttributeValues=to_item({":pk": f"BROADCAST#{map_id}", ":run": "RUN#"}),
            ScanIndexForward=False,
            ConsistentRead=True,
            Limit=limit,
        )
        return [self._with_counts(from_item(item)) for item in found["Items"]]

    def _with_counts(self, item: dict[str, Any]) -> Progress:
        run = RunKey(map_id=item["map_id"], trigger=item["trigger"], at=item["at"])
        counts = {"started": 0, "skipped": 0, "failed": 0}
        keys = [to_item({"pk": f"{run.counters_pk}#{shard:02d}", "sk": "COUNT"}) for shard in range(COUNTER_SHARDS)]
        while keys:  # one BatchGetItem of the 16 shards (again for any it left unprocessed)
            answer = self._db.batch_get_item(RequestItems={self.table: {"Keys": keys, "ConsistentRead": True}})
            for shard in answer.get("Responses", {}).get(self.table, []):
                plain = from_item(shard)
                for name in counts:
                    counts[name] += int(plain.get(name, 0))
            keys = answer.get("UnprocessedKeys", {}).get(self.table, {}).get("Keys", [])
        return Progress.model_validate(
            {
                **{k: item[k] for k in ("audience", "started_at", "updated_at") if k in item},
                **run.model_dump(),
                "pages": int(item.get("pages", 0)),
                "found": int(item.get("found", 0)),
                "queued": int(item.get("queued", 0)),
                "done": bool(item.get("done", False)),
                **counts,
            }
        )

    def record_once_counted(
        self,
        run: RunKey,
        outcome: Outcome,
        contact_id: str,
        event_key: str,
        kind: str,
        detail: dict[str, Any],
        *,
        map_id: str,
        at: datetime,
    ) -> bool:
        """``ContactStore.record_once`` and the outcome's counter in one transaction: the entry
        and the count happen together, once (False: recorded, and counted, before)."""
        from automaps.store.contacts import HISTORY_PREFIX, HistoryEntry, _history_item, _sortable

        entry = HistoryEntry(at=at, kind=kind, detail=detail, map_id=map_id)
        stamp = f"{_sortable(entry.at)}#{hashlib.sha256(event_key.encode()).hexdigest()[:24]}"
        item = {
            **_history_item(contact_id, entry),
            **to_item({"sk": f"{HISTORY_PREFIX}{stamp}", "ksk": f"{kind}#{stamp}"}),
        }
        put = {"Put": {"TableName": self.table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}
        return self._once([put, self.counter_update(run, contact_id, outcome)])

    def _once(self, items: list[dict[str, Any]]) -> bool:
        """A conditional first item and a counter, in one transaction: False when the first's
        condition fails (done before). A conflict on a shard (another consumer's transaction on it
        at that instant) is tried again at once, up to ``CONFLICT_ATTEMPTS`` times."""
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                self._db.transact_write_items(TransactItems=items)
                return True
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                codes = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
                if codes and codes[0] == "ConditionalCheckFailed":
                    return False
                if "TransactionConflict" not in codes or attempt == CONFLICT_ATTEMPTS:
                    raise
        return False
