"""Lambda's DynamoDB stream poller, in-process: the template's ``Type: DynamoDB`` events deliver
the records of a table's stream to their functions.

moto records a stream record for every write of a table with a stream and would invoke its own
event source mappings synchronously *inside* the DynamoDB request (under ``moto_patches``'
serialising lock, which our handlers would then re-enter). So no mapping is created in moto;
``moto_patches`` hands each request's records to :meth:`StreamDelivery.added` in the writer's
thread once the request has returned, and this module does what Lambda does with them:

* each record becomes what Lambda sends (``eventID``, ``eventName``, ``eventSource``,
  ``awsRegion``, ``dynamodb.Keys/NewImage/SequenceNumber/SizeBytes/StreamViewType/
  ApproximateCreationDateTime`` (virtual time), ``eventSourceARN``), and the event source's
  ``FilterCriteria`` decide whether it is delivered at all (:func:`matches`: the subset of
  Lambda's filter rules that templates here use: exact values, ``prefix``, ``exists``, nested
  keys, OR across filters, any element of a list);
* **with a clock** (the ``LocalRuntime``): asynchronously, in write order, in batches of at most
  ``BatchSize``, by one worker per event source that is a participant of the virtual clock from
  the moment a record is pending (begun in the writer's thread), so ``run_until_settled`` and
  ``--fast-forward`` wait for pending records. The batching window is not waited for: what is
  pending when the worker runs is one batch, at the write's virtual instant. A failed batch is
  retried after a back-off on the virtual clock (1 s, doubling, at most 60 s): with
  ``ReportBatchItemFailures`` from the first reported record on (the records before it are
  done), after a function error the whole batch, split in two first with
  ``BisectBatchOnFunctionError``. After ``MaximumRetryAttempts`` retries, or once a record is
  older than ``MaximumRecordAgeInSeconds``, the batch goes to the ``OnFailure`` SQS queue as the
  failure record Lambda writes (``requestContext``, ``responseContext``, ``DDBStreamBatchInfo``
  with shard, sequence numbers and stream ARN) and delivery goes on. One shard, one batch at a
  time (``ParallelizationFactor`` keeps a key's order on AWS; here every record is in order);
* **without a clock** (the plain-moto ``aws`` test fixture): delivered in the writer's thread
  right after its request returned, one invocation per batch, never retried (a failure is logged).
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from automaps import aws
from automaps import clock as app_clock
from automaps_local.clock import VirtualClock
from automaps_local.stack import REGION, DynamoDBEventSource

LOG = logging.getLogger(__name__)

Invoker = Callable[[str, Any], Any]  # (function logical id, event) -> result
BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 60.0
RETENTION_SECONDS = 24 * 3600  # a stream keeps its records 24 h: the record age when none is set


# ---------------------------------------------------------------------- filter rules
class FilterError(ValueError):
    """A FilterCriteria pattern uses a rule this local poller does not implement."""


def check_pattern(pattern: Any, where: str) -> None:
    """Raise :class:`FilterError` naming ``where`` for anything :func:`matches` cannot decide."""
    if not isinstance(pattern, dict) or not pattern:
        raise FilterError(f"{where}: a filter pattern is a non-empty JSON object")
    for key, value in pattern.items():
        if isinstance(value, dict):
            check_pattern(value, f"{where}.{key}")
        elif isinstance(value, list) and value:
            for rule in value:
                if isinstance(rule, dict):
                    name = next(iter(rule), None)
                    if len(rule) != 1 or name not in ("prefix", "exists"):
                        raise FilterError(
                            f"{where}.{key}: rule {json.dumps(rule)} is not supported locally "
                            "(exact values, prefix and exists are)"
                        )
                    if name == "prefix" and not isinstance(rule[name], str):
                        raise FilterError(f"{where}.{key}: prefix takes a string")
                    if name == "exists" and not isinstance(rule[name], bool):
                        raise FilterError(f"{where}.{key}: exists takes true or false")
                elif isinstance(rule, list):
                    raise FilterError(f"{where}.{key}: a rule is a value or an object, not a list")
        else:
            raise FilterError(f"{where}.{key}: a pattern's leaf is a non-empty list of rules")


def matches(pattern: dict[str, Any], event: Any) -> bool:
    """Lambda's (EventBridge's) matching of one filter pattern against one record: every key of
    the pattern must match; a leaf list matches when one of its rules matches the value (or one
    element of a list value)."""
    if not isinstance(event, dict):
        return False
    for key, expected in pattern.items():
        present = key in event
        value = event.get(key)
        if isinstance(expected, dict):
            if not present or not matches(expected, value):
                return False
        elif not any(_rule(rule, present, value) for rule in expected):
            return False
    return True


def _rule(rule: Any, present: bool, value: Any) -> bool:
    if isinstance(rule, dict) and "exists" in rule:
        return present == bool(rule["exists"])
    if not present:
        return False
    values = value if isinstance(value, list) else [value]
    if isinstance(rule, dict):
        return any(isinstance(v, str) and v.startswith(rule["prefix"]) for v in values)
    return any(v == rule and type(v) is type(rule) for v in values)


def delivered(source: DynamoDBEventSource, record: dict[str, Any]) -> bool:
    """No filters: every record; else one filter must match (filters are OR'ed)."""
    return not source.filters or any(matches(pattern, record) for pattern in source.filters)


# ---------------------------------------------------------------------- records as Lambda sends them
def lambda_record(moto_record: dict[str, Any], source: DynamoDBEventSource, at: datetime) -> dict[str, Any]:
    """One record of the DynamoDB event Lambda sends, from moto's stream record."""
    stream = moto_record["dynamodb"]
    dynamodb: dict[str, Any] = {
        "ApproximateCreationDateTime": int(at.timestamp()),
        "Keys": copy.deepcopy(stream["Keys"]),
        "SequenceNumber": str(stream["SequenceNumber"]),
        "SizeBytes": int(stream["SizeBytes"]),
        "StreamViewType": stream["StreamViewType"],
    }
    for image in ("NewImage", "OldImage"):
        if image in stream:
            dynamodb[image] = copy.deepcopy(stream[image])
    return {
        "eventID": moto_record["eventID"],
        "eventName": moto_record["eventName"],
        "eventVersion": moto_record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": dynamodb,
        "eventSourceARN": source.stream_arn,
    }


@dataclass
class _Pending:
    record: dict[str, Any]
    arrived: datetime  # virtual time of the write


@dataclass
class _Batch:
    records: list[_Pending]
    attempts: int = 0  # invocations that failed so far


@dataclass
class _Source:
    source: DynamoDBEventSource
    shard_id: str = ""
    pending: deque[_Pending] = field(default_factory=deque)
    worker: threading.Thread | None = None  # delivering, a clock participant while it lives


class StreamDelivery:
    def __init__(self, sources: list[DynamoDBEventSource], invoker: Invoker, clock: VirtualClock | None = None) -> None:
        self.sources: dict[str, list[_Source]] = {}
        for source in sources:
            for index, pattern in enumerate(source.filters):
                check_pattern(pattern, f"{source.function}.{source.event}.FilterCriteria.Filters[{index}].Pattern")
            if source.enabled:
                self.sources.setdefault(source.table, []).append(_Source(source))
        self.invoker = invoker
        self.clock = clock
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self.invocations = 0
        self.failures_sent = 0  # failure records sent to OnFailure queues

    # ------------------------------------------------------------------ from moto_patches
    def added(self, table: str, shard_id: str, records: list[dict[str, Any]]) -> None:
        """A DynamoDB request wrote ``records`` to ``table``'s stream (writer's thread, after the request)."""
        sources = self.sources.get(table)
        if not sources or self._closed.is_set():
            return
        at = self.clock.now() if self.clock else app_clock.now()
        for state in sources:
            state.shard_id = shard_id
            batch = [lambda_record(r, state.source, at) for r in records]
            batch = [r for r in batch if delivered(state.source, r)]
            if not batch:
                continue
            try:
                if self.clock is None:
                    self._deliver_now(state, batch)
                else:
                    self._enqueue(state, [_Pending(r, at) for r in batch])
            except Exception as error:  # noqa: BLE001  (the poller's trouble, never the writer's)
                LOG.warning("stream delivery to %s failed: %s: %s", state.source.function, type(error).__name__, error)

    # ------------------------------------------------------------------ no clock: in the writer's thread
    def _deliver_now(self, state: _Source, records: list[dict[str, Any]]) -> None:
        size = max(1, state.source.batch_size)
        for start in range(0, len(records), size):
            failed = self._invoke(state, records[start : start + size])
            if failed is not None:
                LOG.warning(
                    "%s failed on %d stream records of %s (not retried without the runtime): %s",
                    state.source.function,
                    len(records[start : start + size]),
                    state.source.table,
                    failed,
                )

    # ------------------------------------------------------------------ with the clock: a worker per source
    def _enqueue(self, state: _Source, records: list[_Pending]) -> None:
        assert self.clock is not None
        with self._lock:
            state.pending.extend(records)
            if state.worker is not None:
                return
            key = self.clock.begin(("stream", state.source.function, state.source.event))  # never looks idle
            state.worker = threading.Thread(
                target=self._work, args=(state, key), daemon=True, name=f"stream-{state.source.function}"
            )
            state.worker.start()

    def _work(self, state: _Source, key: Any) -> None:
        assert self.clock is not None
        try:
            while True:
                with self._lock:
                    if not state.pending or self._closed.is_set():
                        state.worker = None
                        return
                    size = max(1, state.source.batch_size)
                    batch = _Batch([state.pending.popleft() for _ in range(min(size, len(state.pending)))])
                if not self._deliver_with_retries(state, batch, key):
                    with self._lock:
                        state.worker = None
                    return
        except Exception:  # a worker must not die silently; the next write starts another
            LOG.exception("stream worker of %s stopped", state.source.function)
            with self._lock:
                state.worker = None
        finally:
            self.clock.end(key)

    def _deliver_with_retries(self, state: _Source, first: _Batch, key: Any) -> bool:
        """Deliver one batch (and what bisecting makes of it) to the end; False if closed meanwhile."""
        assert self.clock is not None
        source, todo = state.source, [first]
        while todo:
            batch = todo.pop(0)
            expired = self._expired(source, batch)
            if expired:
                self._send_failure(state, batch, "RecordAgeExceeded", None)
                continue
            failed = self._invoke(state, [p.record for p in batch.records])
            if failed is None:
                continue
            batch.attempts += 1
            if isinstance(failed, int):  # ReportBatchItemFailures: the records before it are done
                batch = _Batch(batch.records[failed:], batch.attempts)
            elif source.bisect and len(batch.records) > 1:
                half = len(batch.records) // 2
                todo[:0] = [_Batch(batch.records[:half], batch.attempts), _Batch(batch.records[half:], batch.attempts)]
                continue
            if 0 <= source.maximum_retry_attempts < batch.attempts:
                self._send_failure(state, batch, "RetryAttemptsExhausted", failed)
                continue
            backoff = min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** (batch.attempts - 1))
            if not self.clock.sleep(backoff, owner=key):
                return False
            todo.insert(0, batch)
        return True

    def _expired(self, source: DynamoDBEventSource, batch: _Batch) -> bool:
        assert self.clock is not None
        age = source.maximum_record_age if source.maximum_record_age >= 0 else RETENTION_SECONDS
        return self.clock.now() - batch.records[0].arrived > timedelta(seconds=age)

    # ------------------------------------------------------------------ one invocation
    def _invoke(self, state: _Source, records: list[dict[str, Any]]) -> int | str | None:
        """None when the batch is done; the index of the first failed record (partial batch
        failure), or the function's error as text."""
        self.invocations += 1
        try:
            result = self.invoker(state.source.function, {"Records": copy.deepcopy(records)})
        except Exception as error:  # noqa: BLE001  (the function's failure: the batch is retried)
            LOG.warning(
                "%s failed on %s's stream: %s: %s",
                state.source.function,
                state.source.table,
                type(error).__name__,
                error,
            )
            return f"{type(error).__name__}: {error}"
        if not state.source.report_failures:
            return None
        if result is not None and not isinstance(result, dict):
            return "the function's answer is no batch item failure response"
        identifiers = [str(f.get("itemIdentifier")) for f in (result or {}).get("batchItemFailures") or []]
        if not identifiers:
            return None
        sequence = [r["dynamodb"]["SequenceNumber"] for r in records]
        known = [sequence.index(i) for i in identifiers if i in sequence]
        if len(known) != len(identifiers):  # Lambda: an unknown identifier fails the whole batch
            return "batchItemFailures names a record not in the batch"
        return min(known)

    def _send_failure(self, state: _Source, batch: _Batch, condition: str, error: int | str | None) -> None:
        """The failure record Lambda sends to the OnFailure destination of a stream event source."""
        source, records = state.source, [p.record for p in batch.records]
        if source.on_failure is None:
            LOG.warning(
                "%s: %d stream records dropped (%s), no OnFailure destination", source.function, len(records), condition
            )
            return
        now = self.clock.now() if self.clock else app_clock.now()
        failure = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": source.function_arn,
                "condition": condition,
                "approximateInvokeCount": batch.attempts,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "" if isinstance(error, int) or error is None else "Unhandled",
            },
            "version": "1.0",
            "timestamp": _iso(now),
            "DDBStreamBatchInfo": {
                "shardId": state.shard_id,
                "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso(batch.records[0].arrived),
                "approximateArrivalOfLastRecord": _iso(batch.records[-1].arrived),
                "batchSize": len(records),
                "streamArn": source.stream_arn,
            },
        }
        aws.client("sqs").send_message(QueueUrl=source.on_failure, MessageBody=json.dumps(failure))
        self.failures_sent += 1
        LOG.warning(
            "%s gave up on %d stream records (%s): failure record sent to %s",
            source.function,
            len(records),
            condition,
            source.on_failure.rsplit("/", 1)[-1],
        )

    def pending(self) -> int:
        """Records waiting for a worker (not counting the batch being delivered)."""
        with self._lock:
            return sum(len(s.pending) for states in self.sources.values() for s in states)

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            workers = [s.worker for states in self.sources.values() for s in states if s.worker is not None]
        for worker in workers:
            worker.join(timeout=5)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


@contextlib.contextmanager
def in_process(sources: list[DynamoDBEventSource], invoker: Invoker) -> Iterator[StreamDelivery]:
    """Only the stream deliveries (no clock, no retries), for tests on plain moto inside
    ``moto_patches.atomic_dynamodb()``."""
    from automaps_local import moto_patches

    delivery = StreamDelivery(sources, invoker)
    with moto_patches.stream_listener(delivery.added):
        yield delivery
