"""Numbers per map and step, kept from the history's stream (docs/architecture.md, "Numbers per map and step").

The router (``automaps.journeys.router``) sees every history entry once per delivery; each entry a
map wrote (it names the map) moves counters: ``map.enrolled`` entered, ``map.exited`` exited (and
``exited:<reason>``), ``step.done``/``skipped``/``failed``/``outcome_unknown``/``deferred`` the step's
outcomes, ``wait.entered``/``wait.left`` the step's ``waiting`` gauge (+1 when a contact starts
waiting there: a wait, a goal, a wait_until, a deferred send; -1 when they leave it), ``email.*``
and ``sms.sent`` the sending step's messages (engagement entries carry the sending step).

Counting happens in the invocation that routes the batch anyway: :class:`Batch` collects what each
routed record adds, in memory, and :meth:`Batch.commit` writes each counter item once for the
batch, in one transaction with the batch's marker (automaps.store.stats). Exactly once under
redelivery: the marker is keyed on the batch's first record and holds the last one counted, so a
batch delivered again counts only what lies beyond; records from the first failed one on are not
counted (the stream delivers them again). Nothing here scans contacts: reading a map is one Query.

Rates are computed on read, per message sent (as the peers report them): ``opened`` is unique
opens (messages opened at least once) / sent, ``clicked`` unique clicks / sent, ``delivered``,
``bounced``, ``complained``, ``unsubscribed`` likewise / sent.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from automaps.store import stats as store
from automaps.store.contacts import HistoryEntry

logger = Logger(child=True)

STEP_OUTCOMES = {
    "step.done": "done",
    "step.skipped": "skipped",
    "step.failed": "failed",
    "step.outcome_unknown": "unknown",
    "step.deferred": "deferred",
}
WAITING = {"wait.entered": 1, "wait.left": -1}
"""The gauge's entries (written by automaps.journeys.positions when a contact starts or stops
waiting)."""
EMAIL = {
    "email.sent": "sent",
    "email.delivered": "delivered",
    "email.opened": "opens",
    "email.clicked": "clicks",
    "email.bounced": "bounced",
    "email.complained": "complained",
}
UNIQUE = {"email.opened": "opened", "email.clicked": "clicked"}
"""Counted once per message (its first open, its first click), beside the totals."""
SMS = {"sms.sent": "sent", "sms.delivered": "delivered", "sms.failed": "failed_delivery", "sms.clicked": "clicks"}
EMAIL_COUNTERS = ("sent", "delivered", "opened", "clicked", "bounced", "complained", "unsubscribed")
SMS_COUNTERS = ("sent", "delivered", "clicked", "unsubscribed")
STEP_COUNTERS = ("waiting", "done", "skipped", "failed")
COMMIT_MARGIN_MS = 3000
"""Time the count needs (one transaction, a few retries): with less left, the batch is retried
rather than risking a timeout after the count was written (which Lambda would bisect and count again)."""
RATE_OF = {
    "email": ("delivered", "opened", "clicked", "bounced", "complained", "unsubscribed"),
    "sms": ("delivered", "clicked", "unsubscribed"),
}


def deltas(entry: HistoryEntry) -> list[tuple[str | None, str, int]]:
    """What ``entry`` adds: ``(step or None for the map, counter, amount)``; empty for an entry no
    map wrote. The unique counters (``opened``, ``clicked``) are decided by :class:`Batch`."""
    if not entry.map_id:
        return []
    step = entry.step_id or None
    kind = entry.kind
    if kind == "map.enrolled":
        return [(None, "entered", 1)]
    if kind == "map.exited":
        reason = str(entry.detail.get("reason") or "end")
        return [(None, "exited", 1), (None, f"exited:{reason}", 1)]
    if step is None:
        return []
    if kind in STEP_OUTCOMES:
        return [(step, STEP_OUTCOMES[kind], 1)]
    if kind in WAITING:
        return [(step, "waiting", WAITING[kind])]
    if kind == "condition.evaluated":  # (only an if/switch step records one, once per visit: decided)
        return [(step, "done", 1)]
    if kind in EMAIL:
        return [(step, EMAIL[kind], 1)]
    if kind in SMS:
        return [(step, SMS[kind], 1)]
    if kind == "unsubscribed":
        return [(step, "unsubscribed", 1)]
    return []


def channel_of(entry: HistoryEntry) -> str | None:
    """The channel of a message step an entry shows (an unsubscribe says which channel it left)."""
    if entry.kind == "unsubscribed":
        channel = entry.detail.get("channel")
        return channel if channel in ("email", "sms") else None
    kind = entry.kind
    return "email" if kind.startswith("email.") else "sms" if kind.startswith("sms.") else None


@dataclass
class Counted:
    """One routed record: its place in the stream and its entry."""

    sequence: str
    contact_id: str
    entry: HistoryEntry | None


@dataclass
class Batch:
    """The records of one stream batch routed so far (in order), counted by :meth:`commit`."""

    stream: str
    sequences: list[str]
    routed: dict[str, Counted] = field(default_factory=dict)

    @classmethod
    def of(cls, event: dict[str, Any]) -> Batch:
        records = event.get("Records") or []
        stream = str((records[0].get("eventSourceARN") if records else "") or "stream")
        sequences = [str((r.get("dynamodb") or {}).get("SequenceNumber") or "") for r in records]
        return cls(stream=stream, sequences=[s for s in sequences if s])

    def add(self, sequence: str | None, contact_id: str, entry: HistoryEntry | None) -> None:
        """``entry`` was routed (None: a record with nothing to count; records that fail are never added)."""
        if sequence:
            self.routed[sequence] = Counted(sequence, contact_id, entry)

    def countable(self, failed: set[str]) -> list[str]:
        """The batch's sequence numbers up to (not including) its first failed or unrouted record:
        the stream delivers that one and everything after it again."""
        out = []
        for sequence in self.sequences:
            if sequence in failed or sequence not in self.routed:
                break
            out.append(sequence)
        return out

    def counted(self, response: Any, context: Any = None) -> Any:
        """The router's answer once the batch is counted (:meth:`commit`, the records before the
        first one ``response`` reports failed). When DynamoDB refuses the write (throttled,
        unreachable), or too little of the invocation's time is left for it, every record is reported failed instead:
        the stream delivers the batch again from its first record (routes are keyed on the
        entries; the marker was not moved), never as a function error, which Lambda would bisect."""
        failed = {str(item["itemIdentifier"]) for item in response.get("batchItemFailures", [])}
        retry_all = {"batchItemFailures": [{"itemIdentifier": self.sequences[0]}]} if self.sequences else response
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        if remaining is not None and remaining() < COMMIT_MARGIN_MS:
            logger.warning("stream batch not counted: too little time left; reported failed from its first record")
            return retry_all
        try:
            self.commit(failed)
        except (ClientError, BotoCoreError, store.StatsConflict):  # throttled, unreachable: the batch comes again
            logger.exception("stream batch not counted; reported failed from its first record")
            return retry_all
        except Exception:  # a fault of the counting itself never holds up routing: these counts are lost
            logger.exception("stream batch not counted (a fault in the counting); routed as reported")
        return response

    def commit(self, failed: set[str] | None = None, db: store.StatsStore | None = None) -> int:
        """Add the counted records' deltas to the counters, once; returns the records counted.
        A group of records whose counter items exceed one transaction is split (each group keyed on
        its own first record, so a redelivery splits the same way)."""
        counted = self.countable(failed or set())
        if not counted or not any(self._deltas(s) for s in counted):
            return 0
        db = db or store.StatsStore()
        total = 0
        for group in self._groups(counted):
            total += self._commit_group(db, group)
        return total

    def _deltas(self, sequence: str) -> list[tuple[str | None, str, int]]:
        entry = self.routed[sequence].entry
        return deltas(entry) if entry is not None else []

    def _groups(self, counted: list[str]) -> list[list[str]]:
        groups: list[list[str]] = [[]]
        items: set[tuple[str, str | None]] = set()
        for sequence in counted:
            entry = self.routed[sequence].entry
            keys = {(str(entry.map_id), step) for step, _, _ in self._deltas(sequence)} if entry else set()
            if groups[-1] and len(items | keys) > store.MAX_ITEMS:
                groups.append([])
                items = set()
            groups[-1].append(sequence)
            items |= keys
        return groups

    def _commit_group(self, db: store.StatsStore, group: list[str]) -> int:
        first, previous = group[0], None
        for _ in range(5):
            todo = [s for s in group if previous is None or store.padded(s) > store.padded(previous)]
            if not todo:
                logger.info("stream batch already counted", extra={"first": first, "last": previous})
                return 0
            sums, channels = self._sums(db, todo)
            try:
                if sums:
                    db.add(self.stream, first, group[-1], previous, sums, channels)
                return len(todo)
            except store.StatsConflict:
                previous = db.last_counted(self.stream, first)  # delivered again: count what lies beyond
        raise store.StatsConflict(f"the batch from {first} kept changing while it was counted")

    def _sums(
        self, db: store.StatsStore, sequences: list[str]
    ) -> tuple[dict[tuple[str, str | None], dict[str, int]], dict[tuple[str, str | None], str]]:
        sums: dict[tuple[str, str | None], Counter[str]] = defaultdict(Counter)
        channels: dict[tuple[str, str | None], str] = {}
        for sequence in sequences:
            counted = self.routed[sequence]
            entry = counted.entry
            if entry is None:
                continue
            for step, name, amount in deltas(entry):
                sums[(str(entry.map_id), step)][name] += amount
                if step and channel_of(entry):
                    channels[(str(entry.map_id), step)] = str(channel_of(entry))
            message = entry.detail.get("message_id")
            unique = entry.kind in UNIQUE and entry.map_id and entry.step_id and message
            if unique and db.first_time(counted.contact_id, entry.kind, str(message), sequence):
                sums[(str(entry.map_id), entry.step_id)][UNIQUE[entry.kind]] += 1
        return {key: dict(counts) for key, counts in sums.items() if counts}, channels


# ------------------------------------------------------------------ reading


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _rates(numbers: dict[str, int], channel: str) -> dict[str, float]:
    sent = numbers.get("sent", 0)
    return {name: round(numbers.get(name, 0) / sent, 4) if sent else 0.0 for name in RATE_OF[channel]}


def _step(item: dict[str, Any]) -> dict[str, Any]:
    channel = item.get("channel")
    numbers: dict[str, Any] = {name: max(_int(item.get(name)), 0) for name in STEP_COUNTERS}
    numbers["unknown"] = _int(item.get("unknown"))
    numbers["deferred"] = _int(item.get("deferred"))
    if channel == "email":
        numbers |= {name: _int(item.get(name)) for name in EMAIL_COUNTERS}
        numbers["opens"], numbers["clicks"] = _int(item.get("opens")), _int(item.get("clicks"))
    elif channel == "sms":
        numbers |= {name: _int(item.get(name)) for name in SMS_COUNTERS}
    if channel in RATE_OF:
        numbers["channel"] = channel
        numbers["rates"] = _rates(numbers, str(channel))
    return numbers


def read_map(map_id: str, record: Any = None) -> dict[str, Any]:
    """The map's numbers: ``{"map_id", "entered", "active", "exited", "exits": {reason: n},
    "steps": {step_id: {"waiting", "done", "skipped", "failed", ... , "rates": {...}}}}``; one Query
    of its counter items (the steps the registry knows are listed in reading order, with zeros).
    ``record``: the map's registry record when the caller has it (else it is read)."""
    items = store.StatsStore().items_of(map_id)
    head = next((item for item in items if item.get("sk") == store.MAP_SK), {})
    entered, exited = _int(head.get("entered")), _int(head.get("exited"))
    exits = {
        name.removeprefix("exited:"): _int(value)
        for name, value in sorted(head.items())
        if name.startswith("exited:") and _int(value)
    }
    found = {
        str(item["sk"]).removeprefix(store.STEP_PREFIX): _step(item)
        for item in items
        if str(item.get("sk", "")).startswith(store.STEP_PREFIX)
    }
    steps: dict[str, dict[str, Any]] = {}
    for step in _ordered(record) if record is not None else _reading_order(map_id):
        steps[step] = found.pop(step) if step in found else _step({})
    steps |= dict(sorted(found.items()))
    return {
        "map_id": map_id,
        "entered": entered,
        "active": max(entered - exited, 0),
        "exited": exited,
        "exits": exits,
        "steps": steps,
    }


def _reading_order(map_id: str) -> list[str]:
    from automaps.journeys import enrollment

    try:
        record = enrollment.map_record(map_id)
    except Exception:  # noqa: BLE001  (the numbers stand without the registry)
        logger.warning("map registry not readable; steps listed as counted", extra={"map_id": map_id})
        return []
    if record is None:
        return []
    return _ordered(record)


def _ordered(record: Any) -> list[str]:
    return [step for step, _ in sorted(record.order.items(), key=lambda kv: kv[1])]


def read_all(records: list[Any] | None = None) -> list[dict[str, Any]]:
    """:func:`read_map` of every registered map (the registry names them; nothing is scanned).
    ``records``: the registry's records when the caller has read them already."""
    from automaps.journeys import enrollment

    return [read_map(record.id, record) for record in (enrollment.registered_maps() if records is None else records)]
