"""What a journey costs on AWS: DynamoDB request units, SQS requests and Lambda invocations, metered
on the local runtime with botocore event hooks, and the price of it all.

The meter registers ``before-call.dynamodb`` / ``after-call.dynamodb`` and ``after-call.sqs`` on
the shared ``automaps.aws.client(...)`` clients (the idempotency layer uses the same DynamoDB
client) and wraps the runtime's handler lookup, so every request is attributed to the handler
running in its thread: a map step (the task payload's ``step_id``), the form post (API Gateway
event), the intake consumer (SQS event) or a rule (EventBridge event). SQS ``ReceiveMessage`` and
``DeleteMessageBatch`` are the Lambda event source mapping's own requests: "(sqs poller)". Locally
that poller receives when a message arrives (and once more to find the queue empty); on AWS it
long-polls all the time, a fixed cost per queue that is not per journey.

Request units, as DynamoDB on-demand bills them (approximations in brackets):

* item size = sum of UTF-8 attribute names + values: strings UTF-8 bytes, binary raw bytes,
  numbers 1 byte per 2 significant digits + 1, booleans and nulls 1, lists and maps 3 + 1 per
  element + their elements, sets the sum of their elements. The size of an item a write changes
  is the larger of the stored item before and after the request, both read from moto's backend
  by key (so UpdateItem and DeleteItem are sized by the real item, not by the request);
* writes (Put/Update/Delete, each BatchWriteItem entry): 1 write unit per 1 KB, at least 1;
  transactional (each TransactWriteItems entry, ConditionCheck included): twice that;
* reads (GetItem, each BatchGetItem key): 1 read unit per 4 KB when strongly consistent, half
  when eventually consistent, at least one step; transactional (TransactGetItems): twice;
  a Query or Scan: the total size of the items it read, rounded up to 4 KB once per request, at
  least one step; a Scan of a whole table (one page) reads every stored item; otherwise the items
  returned, each sized as the stored item, [with items a filter dropped (ScannedCount - Count)
  taken at the returned items' average size, or 1 KB each when none was returned];
* secondary indexes (the ContactsTable's LSI ``ByKind`` and GSI ``GSI1``, projection ALL): a
  write of an item that carries an index's key before or after it costs that index 1 write unit
  per KB of the item, 2 when the index key changed (``ddb_index_write_units``, priced as writes,
  counted apart from the table's); a write that changed nothing costs the indexes nothing;
* a conditional write whose condition failed and a cancelled transaction are billed like
  successes [DynamoDB bills a failed condition; a cancelled transaction is billed for what it
  prepared]; throttled and invalid requests are not billed.

Lambda duration is priced at a fixed 50 ms per invocation (256 MB, arm64): the in-process handler
time on a shared 2-core machine is not what Lambda would measure. The measured exclusive handler
time (wall clock, minus the handlers nested in it) is reported next to it for reference.
"""

from __future__ import annotations

import base64
import json
import math
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

# us-east-1 list prices, per unit
PRICES = {
    "transition": 0.025 / 1_000,
    "lambda_request": 0.20 / 1_000_000,
    "lambda_gb_second": 0.0000133334,       # arm64
    "ddb_write_unit": 0.625 / 1_000_000,
    "ddb_read_unit": 0.125 / 1_000_000,
    "sqs_request": 0.40 / 1_000_000,
}
LAMBDA_MEMORY_GB = 256 / 1024
LAMBDA_SECONDS = 0.050  # fixed duration per invocation
POLLER_OPERATIONS = {"ReceiveMessage", "DeleteMessageBatch"}
BILLED_ERRORS = {"ConditionalCheckFailedException", "TransactionCanceledException"}


# ---------------------------------------------------------------------- item sizes
def value_size(value: dict[str, Any]) -> int:
    """Bytes of one AttributeValue (wire format; binary as base64 text or bytes)."""
    [(kind, inner)] = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return number_size(inner)
    if kind == "B":
        return _binary_size(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in inner)
    if kind == "NS":
        return sum(number_size(n) for n in inner)
    if kind == "BS":
        return sum(_binary_size(b) for b in inner)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in inner.items())
    raise ValueError(f"unknown AttributeValue type {kind!r}")


def number_size(text: str) -> int:
    digits = str(text).lstrip("-+").lower().split("e")[0].replace(".", "").strip("0")
    return math.ceil(len(digits) / 2) + 1


def _binary_size(inner: str | bytes) -> int:
    return len(inner) if isinstance(inner, bytes | bytearray) else len(base64.b64decode(inner))


def item_size(item: dict[str, Any] | None) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in (item or {}).items())


def write_units(size: int, transactional: bool = False) -> float:
    return max(1, math.ceil(size / 1024)) * (2 if transactional else 1)


def read_units(size: int, consistent: bool, transactional: bool = False) -> float:
    units = max(1, math.ceil(size / 4096))
    return units * 2 if transactional else units if consistent else units / 2


# ---------------------------------------------------------------------- moto's store, by key
class Store:
    """The stored item behind a key, from moto's backend (no request, nothing metered)."""

    def __init__(self, account: str, region: str) -> None:
        from moto.dynamodb.models import dynamodb_backends

        self.backend = dynamodb_backends[account][region]

    def key_names(self, table: str) -> list[str]:
        found = self.backend.get_table(table)
        return [k for k in (found.hash_key_attr, found.range_key_attr) if k]

    def size(self, table: str, key: dict[str, Any]) -> int:
        return item_size(self.item(table, key))

    def item(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        """The stored item (wire form), read without writing: moto's own get_item inserts a missing
        hash key into the table's defaultdict, which breaks another thread's transaction copying
        the table meanwhile."""
        for _ in range(5):  # other threads write while we read (we hold none of moto's locks)
            try:
                found = self.backend.get_table(table)
                hash_key, range_key = self.backend.get_keys_value(found, key)
                bucket = found.items.get(hash_key)
                item = bucket.get(range_key) if found.range_key_attr and bucket is not None else bucket
                return item.to_json()["Attributes"] if item is not None else None
            except RuntimeError:
                continue
            except Exception:  # noqa: BLE001  (a missing table or a bad key: the request fails too)
                return None
        return None

    def index_keys(self, table: str) -> list[list[str]]:
        """The key attributes of each secondary index (local and global) of ``table``."""
        try:
            found = self.backend.get_table(table)
        except Exception:  # noqa: BLE001
            return []
        return [list(index.schema_key_attrs) for index in (*found.indexes, *found.global_indexes)]

    def table_size(self, table: str) -> int:
        for _ in range(5):
            try:
                return sum(item_size(item.to_json()["Attributes"]) for item in self.backend.get_table(table).all_items())
            except RuntimeError:  # written meanwhile
                continue
            except Exception:  # noqa: BLE001
                return 0
        return 0

    def key_of(self, table: str, item: dict[str, Any]) -> dict[str, Any]:
        return {name: item[name] for name in self.key_names(table) if name in item}


# ---------------------------------------------------------------------- the meter
@dataclass
class _Frame:
    label: str
    started: float
    nested: float = 0.0


class Meter:
    """Counts per label (step id or origin): DynamoDB units and requests by operation, SQS
    requests by operation, Lambda invocations and their exclusive handler seconds."""

    def __init__(self, runtime: Any, account: str, region: str) -> None:
        self.runtime = runtime
        self.store = Store(account, region)
        self._lock = threading.Lock()
        self._local = threading.local()
        self.counts: dict[str, Counter] = defaultdict(Counter)

    def install(self) -> Meter:
        from automaps import aws

        dynamodb, sqs = aws.client("dynamodb"), aws.client("sqs")
        dynamodb.meta.events.register("before-call.dynamodb", self._before_dynamodb)
        dynamodb.meta.events.register("after-call.dynamodb", self._after_dynamodb)
        sqs.meta.events.register("after-call.sqs", self._after_sqs)
        found = self.runtime._handler
        self.runtime._handler = lambda function: self._timed(function, found(function))
        return self

    def clear(self) -> None:
        with self._lock:
            self.counts = defaultdict(Counter)

    # ------------------------------------------------------------------ handlers
    def _timed(self, function: Any, handler: Any) -> Any:
        def timed(event: Any, context: Any) -> Any:
            stack = self._stack()
            label = origin(event)
            frame = _Frame(f"({function.logical_id})" if label == "(other)" else label, time.perf_counter())
            stack.append(frame)
            try:
                return handler(event, context)
            finally:
                elapsed = time.perf_counter() - frame.started
                stack.pop()
                if stack:
                    stack[-1].nested += elapsed
                self._add(frame.label, {"invocations": 1, "handler_seconds": elapsed - frame.nested,
                                        f"fn.{function.logical_id}": 1})
        return timed

    def _stack(self) -> list[_Frame]:
        stack = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    def _label(self) -> str:
        stack = self._stack()
        return stack[-1].label if stack else "(outside handlers)"

    def _add(self, label: str, counts: dict[str, float]) -> None:
        with self._lock:
            self.counts[label].update(counts)

    # ------------------------------------------------------------------ DynamoDB
    def _before_dynamodb(self, model: Any, params: Any, context: Any, **_: Any) -> None:
        request = json.loads(params.get("body") or b"{}")
        context["bench_request"] = request
        context["bench_before"] = {ref: self.store.item(ref[0], json.loads(ref[1]))
                                   for ref in self._written(model.name, request)}

    def _after_dynamodb(self, http_response: Any, parsed: Any, model: Any, context: Any, **_: Any) -> None:
        operation, request = model.name, context.pop("bench_request", {})
        before = context.pop("bench_before", {})
        error = (parsed.get("Error") or {}).get("Code", "") if http_response.status_code >= 300 else ""
        counts: dict[str, float] = {"ddb_requests": 1, f"ddb.{operation}": 1}
        if error:
            counts[f"ddb.error.{error}"] = 1
        if not error or error in BILLED_ERRORS:
            table_units = index_units = 0.0
            for ref, earlier in before.items():
                later = self.store.item(ref[0], json.loads(ref[1]))
                table_units += write_units(max(item_size(earlier), item_size(later)), ref[2])
                index_units += self._index_units(ref[0], earlier, later)
            counts["ddb_write_units"] = table_units
            counts["ddb_index_write_units"] = index_units
            counts["ddb_read_units"] = self._read_units(operation, request, parsed)
        self._add(self._label(), counts)

    def _index_units(self, table: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> float:
        """What one item's write costs in the table's secondary indexes (projection ALL taken): the
        item's size in each index it is in before or after; twice when its index key changed (the
        index deletes the old entry and puts the new one). Unchanged items (a failed condition)
        cost nothing there."""
        if before == after:
            return 0.0
        units = 0.0
        for key in self.store.index_keys(table):
            inside = [all(name in item for name in key) for item in (before, after) if item]
            if not any(inside):
                continue
            moved = bool(before and after and all(inside) and any(before[n] != after[n] for n in key))
            units += write_units(max(item_size(before), item_size(after))) * (2 if moved else 1)
        return units

    def _written(self, operation: str, request: dict[str, Any]) -> list[tuple[str, str, bool]]:
        """(table, key as JSON, transactional) of every item the request writes."""
        refs: list[tuple[str, dict[str, Any], bool]] = []
        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            table = request["TableName"]
            refs.append((table, request.get("Key") or self.store.key_of(table, request.get("Item", {})), False))
        elif operation == "TransactWriteItems":
            for entry in request.get("TransactItems", []):
                [(_, part)] = entry.items()
                table = part["TableName"]
                refs.append((table, part.get("Key") or self.store.key_of(table, part.get("Item", {})), True))
        elif operation == "BatchWriteItem":
            for table, entries in request.get("RequestItems", {}).items():
                for entry in entries:
                    put, delete = entry.get("PutRequest"), entry.get("DeleteRequest")
                    key = delete["Key"] if delete else self.store.key_of(table, put["Item"])
                    refs.append((table, key, False))
        return [(table, json.dumps(key, sort_keys=True), txn) for table, key, txn in refs]

    def _read_units(self, operation: str, request: dict[str, Any], parsed: dict[str, Any]) -> float:
        consistent = bool(request.get("ConsistentRead"))
        if operation == "GetItem":
            return read_units(self.store.size(request["TableName"], request["Key"]), consistent)
        if operation == "BatchGetItem":
            return sum(read_units(self.store.size(table, key), bool(spec.get("ConsistentRead")))
                       for table, spec in request.get("RequestItems", {}).items() for key in spec.get("Keys", []))
        if operation == "TransactGetItems":
            return sum(read_units(self.store.size(e["Get"]["TableName"], e["Get"]["Key"]), True, True)
                       for e in request.get("TransactItems", []))
        if operation == "Scan" and "ExclusiveStartKey" not in request and "LastEvaluatedKey" not in parsed:
            return read_units(self.store.table_size(request["TableName"]), consistent)  # read it all
        if operation in ("Query", "Scan"):
            table = request["TableName"]
            names = self.store.key_names(table)
            total = 0
            for item in parsed.get("Items", []):
                key = {n: _wire(item[n]) for n in names if n in item}
                total += self.store.size(table, key) if len(key) == len(names) else item_size(_wire_item(item))
            if parsed.get("ScannedCount", 0) > parsed.get("Count", 0):  # a filter dropped some: their average size
                total = total * parsed["ScannedCount"] // parsed["Count"] if parsed.get("Count") \
                    else parsed["ScannedCount"] * 1024
            return read_units(total, consistent and "IndexName" not in request)
        return 0.0

    # ------------------------------------------------------------------ SQS
    def _after_sqs(self, http_response: Any, parsed: Any, model: Any, **_: Any) -> None:
        label = "(sqs poller)" if model.name in POLLER_OPERATIONS else self._label()
        counts: dict[str, float] = {"sqs_requests": 1, f"sqs.{model.name}": 1}
        if http_response.status_code >= 300:
            counts[f"sqs.error.{(parsed.get('Error') or {}).get('Code', '')}"] = 1
        self._add(label, counts)


def origin(event: Any) -> str:
    """What a handler was invoked for: the map step (``step:<map_id>#<step_id>``) or where the event came from."""
    if isinstance(event, dict):
        if "step_id" in event:
            return f"step:{event.get('map_id', '')}#{event['step_id']}"
        if event.get("Records") and event["Records"][0].get("eventSource") == "aws:sqs":
            return "(intake)"
        if "httpMethod" in event or "requestContext" in event:
            return "(form post)"
        if "detail-type" in event:
            return "(events)"
    return "(other)"


def _wire(value: Any) -> dict[str, Any]:
    """A parsed AttributeValue back to wire form (botocore decodes binary to bytes)."""
    [(kind, inner)] = value.items()
    if kind == "B" and isinstance(inner, bytes | bytearray):
        return {"B": base64.b64encode(inner).decode()}
    if kind == "BS":
        return {"BS": [base64.b64encode(b).decode() if isinstance(b, bytes | bytearray) else b for b in inner]}
    return dict(value)


def _wire_item(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _wire(value) for name, value in item.items()}


def dollars_per_1000(per_journey: dict[str, float]) -> dict[str, float]:
    """$ per 1,000 journeys by line item, from the per-journey counts."""
    invocations = per_journey["invocations"] + per_journey["invocations_outside"]
    cost = {
        "transitions": per_journey["transitions"] * PRICES["transition"],
        "lambda_requests": invocations * PRICES["lambda_request"],
        "lambda_duration": invocations * LAMBDA_SECONDS * LAMBDA_MEMORY_GB * PRICES["lambda_gb_second"],
        "dynamodb_writes": per_journey["ddb_write_units"] * PRICES["ddb_write_unit"],
        "dynamodb_index_writes": per_journey.get("ddb_index_write_units", 0.0) * PRICES["ddb_write_unit"],
        "dynamodb_reads": per_journey["ddb_read_units"] * PRICES["ddb_read_unit"],
        "sqs": per_journey["sqs_requests"] * PRICES["sqs_request"],
    }
    per_1000 = {k: v * 1000 for k, v in cost.items()}
    per_1000["total"] = sum(per_1000.values())
    return per_1000
