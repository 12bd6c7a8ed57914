"""DynamoDB request units per contact, and where a broadcast's writes land (issue 10's benchmark).

The real code (stores, router, segment upkeep, the entry gate, the broadcast runner) runs on moto;
a meter on the shared DynamoDB client (``before-call.dynamodb`` / ``after-call.dynamodb``, as in
bench/costs.py, whose on-demand rules it uses: a write is 1 WRU per KB of the larger of the item
before and after, x2 in a transaction, a failed condition billed; a strongly consistent read 1 RRU
per 4 KB, eventually consistent half; a Query the sum of its items' sizes, rounded up once) counts
units by phase and groups the write units by partition key (``pk`` pattern and exact value).

Index writes are counted separately: the ContactsTable's LSI ``ByKind`` (``pk``/``ksk``) and GSI
``GSI1`` (``gsi1pk``/``gsi1sk``), both projecting ALL, take 1 WRU per KB of the item for every
table write of an item that carries the index's key before or after the write (not doubled in a
transaction). Stream reads by Lambda are free; no other index exists.

Measured, per contact:

* segment upkeep: a contact's tag change whose ``tags.changed`` entry makes it enter a segment,
  and a second change that makes it leave: the router's work on the entry (the maps it could
  start, goals, the segment re-evaluation and the membership transaction) and on the
  ``segment.entered`` / ``segment.exited`` entry it writes, minus the same router work with no
  segment pushed (the upkeep's own share);
* an enrollment: one enrollment request through the consumer (gate, enrollment, StartExecution,
  ``map.enrolled``) and the router's work on ``map.enrolled``;
* a broadcast (when automaps.journeys.broadcasts exists): a segment's occurrence from its member
  list to one enrollment per member, with the hottest partition's share of the writes.

History entries reach the router as the stream would deliver them: every new ``H#`` item of the
contact, in order, until routing writes none.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import costs
from bench.local_aws import quiet_fake_aws

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
INDEXES = {"ByKind": ("pk", "ksk"), "GSI1": ("gsi1pk", "gsi1sk")}  # ContactsTable's, projection ALL
SEGMENT_ID = "vip"
SEGMENT: dict[str, Any] = {
    "id": SEGMENT_ID,
    "name": "VIP contacts",
    "condition": {"all": [{"has_tag": "vip"}, {"not": {"has_tag": "churned"}}]},
}


def pattern(pk: str) -> str:
    """A partition key's pattern: contact ids, occurrence times and shard numbers replaced
    (``CONTACT#<id>``, ``SEGMENT#vip``, ``BROADCAST#<map>#<at>#<trigger>#<shard>``)."""
    kind = pk.partition("#")[0]
    if kind in ("CONTACT", "EMAIL", "PHONE", "SUBMISSION"):
        return f"{kind}#<id>"
    text = re.sub(r"\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:\d{2})?", "<at>", pk)
    return re.sub(r"#\d{1,3}$", "#<shard>", text)


class UnitMeter(costs.Meter):
    """Units by phase (:meth:`phase`); outside a phase nothing is counted (the setup)."""

    def __init__(self, account: str, region: str) -> None:
        super().__init__(None, account, region)
        self.phase_name: str | None = None
        self.partitions: dict[str, defaultdict[str, float]] = defaultdict(
            lambda: defaultdict(float)
        )  # phase -> pk -> table WRU
        self.items: dict[str, defaultdict[str, float]] = defaultdict(lambda: defaultdict(float))  # "pk|sk"

    def install(self) -> UnitMeter:
        from automaps import aws

        dynamodb = aws.client("dynamodb")
        dynamodb.meta.events.register("before-call.dynamodb", self._before_dynamodb)
        dynamodb.meta.events.register("after-call.dynamodb", self._after_dynamodb)
        return self

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        previous, self.phase_name = self.phase_name, name
        try:
            yield
        finally:
            self.phase_name = previous

    def _label(self) -> str:
        return self.phase_name or ""

    def _item(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        backend = self.store.backend
        try:
            found = backend.get_table(table)
            hash_key, range_key = backend.get_keys_value(found, key)
            bucket = found.items.get(hash_key)
            item: Any = bucket.get(range_key) if found.range_key_attr and bucket is not None else bucket
            return item.to_json()["Attributes"] if item is not None else None
        except Exception:  # noqa: BLE001  (a missing table or a bad key: the request fails too)
            return None

    def _before_dynamodb(self, model: Any, params: Any, context: Any, **_: Any) -> None:
        if self.phase_name is None:
            return
        request = json.loads(params.get("body") or b"{}")
        context["bench_request"] = request
        context["bench_items"] = {
            ref: self._item(ref[0], json.loads(ref[1])) for ref in self._written(model.name, request)
        }

    def _after_dynamodb(self, http_response: Any, parsed: Any, model: Any, context: Any, **_: Any) -> None:
        if self.phase_name is None or "bench_request" not in context:
            return
        operation, request = model.name, context.pop("bench_request")
        before_items = context.pop("bench_items", {})
        error = (parsed.get("Error") or {}).get("Code", "") if http_response.status_code >= 300 else ""
        counts: dict[str, float] = defaultdict(float, {"ddb_requests": 1, f"ddb.{operation}": 1})
        if error:
            counts[f"ddb.error.{error}"] += 1
        if not error or error in costs.BILLED_ERRORS:
            for (table, key_json, transactional), before in before_items.items():
                key = json.loads(key_json)
                after = self._item(table, key)
                size = max(costs.item_size(before), costs.item_size(after))
                units = costs.write_units(size, transactional)
                counts["ddb_write_units"] += units
                pk, sk = key.get("pk", {}).get("S", "?"), key.get("sk", {}).get("S", "")
                self.partitions[self.phase_name][pk] += units
                self.items[self.phase_name][f"{pk}|{sk}"] += units
                for index_key in INDEXES.values():
                    if any(all(name in item for name in index_key) for item in (before, after) if item):
                        counts["ddb_index_write_units"] += costs.write_units(size)
            counts["ddb_read_units"] += self._read_units(operation, request, parsed)
        self._add(self.phase_name, counts)


# ---------------------------------------------------------------------- the world
@contextmanager
def world() -> Iterator[dict[str, Any]]:
    """moto with the template's tables and queues, the environment exported, a virtual clock at
    START that moves only when told, and the meter installed."""
    from moto import mock_aws

    from automaps import aws, clock
    from automaps_local.clock import VirtualClock
    from automaps_local.moto_patches import atomic_dynamodb
    from automaps_local.stack import ACCOUNT, REGION, LocalStack
    from automaps_local.template import Template

    quiet_fake_aws()
    virtual = VirtualClock(START, auto_advance=False)
    with mock_aws(), atomic_dynamodb(), clock.using(virtual):
        aws.reset()
        stack = LocalStack(Template.load(ROOT / "template.yaml"))
        stack.create_data()
        stack.resolver.refs.setdefault("PublicApi", "local")
        saved_env = dict(os.environ)
        stack.export_environment()
        try:
            meter = UnitMeter(ACCOUNT, REGION).install()
            yield {"meter": meter, "clock": virtual, "stack": stack}
        finally:
            os.environ.clear()
            os.environ.update(saved_env)
            aws.reset()


def deliver(contact_id: str, seen: set[str], meter: UnitMeter | None = None) -> int:
    """Route the contact's history entries not routed yet, in order, as the stream delivers new
    ``H#`` images, until routing writes no more; returns how many were routed. The listing itself
    is not metered (it stands for the stream)."""
    from automaps import aws, config
    from automaps.journeys import router
    from automaps.store.contacts import HISTORY_PREFIX, HistoryEntry
    from automaps.store.content import from_item, to_item

    routed = 0
    while True:
        with _unmetered(meter):
            items = aws.client("dynamodb").query(
                TableName=config.contacts_table(),
                ConsistentRead=True,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :h)",
                ExpressionAttributeValues=to_item({":pk": f"CONTACT#{contact_id}", ":h": HISTORY_PREFIX}),
            )["Items"]
        fresh = [from_item(i) for i in items if i["sk"]["S"] not in seen]
        if not fresh:
            return routed
        for image in fresh:
            seen.add(str(image["sk"]))
            router.route_entry(contact_id, str(image["sk"]), HistoryEntry.model_validate(image))
            routed += 1


@contextmanager
def _unmetered(meter: UnitMeter | None) -> Iterator[None]:
    if meter is None:
        yield
        return
    previous, meter.phase_name = meter.phase_name, None
    try:
        yield
    finally:
        meter.phase_name = previous


def _tag(contact_id: str, add: tuple[str, ...] = (), remove: tuple[str, ...] = ()) -> None:
    import secrets

    from automaps.store.contacts import ContactStore, Effect

    ContactStore().change_tags(
        contact_id, add=add, remove=remove, effect=Effect(visit=f"bench-{secrets.token_hex(8)}", kind="tags.changed")
    )


def _push_segment() -> None:
    from automaps.journeys import segments
    from automaps.store.content import ContentStore
    from automaps.store.segments import SegmentDefinition

    ContentStore().put("SEGMENT", SEGMENT_ID, SegmentDefinition.model_validate(SEGMENT).body())
    segments.forget()


def segment_upkeep(contacts: int = 20) -> dict[str, Any]:
    """Units per contact of entering and leaving the segment ``vip`` by a tag change, with and
    without the segment pushed (the difference is the upkeep's own)."""
    from automaps.store.contacts import ContactStore

    found: dict[str, Any] = {}
    for pushed in (False, True):
        with world() as w:
            meter: UnitMeter = w["meter"]
            if pushed:
                _push_segment()
            store = ContactStore()
            for n in range(contacts):
                contact, _ = store.upsert_by_email(f"bench{n}@example.com", {"first_name": f"B{n}"})
                seen: set[str] = set()
                deliver(contact.id, seen)  # contact.created: not measured
                w["clock"].advance(60)
                with meter.phase("change (enter)"):
                    _tag(contact.id, add=("vip",))
                with meter.phase("router (enter)"):
                    deliver(contact.id, seen, meter)
                w["clock"].advance(60)
                with meter.phase("change (leave)"):
                    _tag(contact.id, remove=("vip",))
                with meter.phase("router (leave)"):
                    deliver(contact.id, seen, meter)
            found["with_segment" if pushed else "without_segment"] = _per(meter, contacts)
            if pushed:
                from automaps.store.segments import SegmentStore

                with _unmetered(meter):
                    found["count_after"] = SegmentStore().count(SEGMENT_ID)
                found["partitions_enter"] = _partitions(meter, "router (enter)")
    upkeep = {}
    for phase in ("router (enter)", "router (leave)"):
        with_, without = found["with_segment"].get(phase, {}), found["without_segment"].get(phase, {})
        upkeep[phase] = {k: round(with_.get(k, 0) - without.get(k, 0), 3) for k in set(with_) | set(without)}
    return {"contacts": contacts, **found, "upkeep": upkeep}


def _per(meter: UnitMeter, contacts: int) -> dict[str, dict[str, float]]:
    return {
        phase: {k: round(v / contacts, 3) for k, v in sorted(c.items())} for phase, c in meter.counts.items() if phase
    }


def _partitions(meter: UnitMeter, phase: str) -> dict[str, Any]:
    by_key = meter.partitions.get(phase, defaultdict(float))
    total = sum(by_key.values()) or 1
    by_pattern: defaultdict[str, float] = defaultdict(float)
    for pk, units in by_key.items():
        by_pattern[pattern(pk)] += units
    hottest = max(by_key.items(), key=lambda kv: kv[1], default=("", 0))
    by_item = meter.items.get(phase, defaultdict(float))
    hottest_item = max(by_item.items(), key=lambda kv: kv[1], default=("", 0))
    return {
        "hottest_item": hottest_item[0],
        "hottest_item_share": round(hottest_item[1] / total, 4),
        "write_units": sum(by_key.values()),
        "partitions": len(by_key),
        "hottest": hottest[0],
        "hottest_share": round(hottest[1] / total, 4),
        "by_pattern": {
            k: {"units": v, "share": round(v / total, 4)} for k, v in sorted(by_pattern.items(), key=lambda kv: -kv[1])
        },
    }


def _deploy(map_id: str) -> str:
    """A registered map whose state machine exists (moto does not run it)."""
    from automaps import aws
    from automaps.journeys import enrollment

    arn = aws.client("stepfunctions").create_state_machine(
        name=f"automaps-{map_id}",
        roleArn="arn:aws:iam::123456789012:role/bench",
        definition='{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}',
    )["stateMachineArn"]
    enrollment.register(
        enrollment.MapRecord(
            id=map_id, state_machine_arn=arn, version="1", triggers=[enrollment.Trigger(type="broadcast", key=map_id)]
        )
    )
    return arn


def _consume_all(meter: UnitMeter, phase: str) -> int:
    """Drain the EnrollQueue through the consumer (batches of 10, failures back off), metered as ``phase``."""
    from automaps import aws, config
    from automaps.journeys import enroll_queue

    sqs, url = aws.client("sqs"), config.enroll_queue_url()
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    handled = 0
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages")
        if not messages:
            return handled
        from bench.enrollment import _record

        with meter.phase(phase):
            answer = enroll_queue.consume({"Records": [_record(m, arn) for m in messages]}, None)
        failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
        done = [m for m in messages if m["MessageId"] not in failed]
        handled += len(done)
        if done:
            sqs.delete_message_batch(
                QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)]
            )
        if failed:
            raise RuntimeError(f"{len(failed)} enrollments failed in the bench")


def enrollment_units(contacts: int = 20) -> dict[str, Any]:
    """Units per contact of one enrollment request through the consumer, and of routing its
    ``map.enrolled`` entry (a map with no entry condition and no goal)."""
    from automaps.journeys import enrollment
    from automaps.store.contacts import ContactStore

    with world() as w:
        meter: UnitMeter = w["meter"]
        _deploy("plain")
        ids = []
        for n in range(contacts):
            contact, _ = ContactStore().upsert_by_email(f"bench{n}@example.com", {"first_name": f"B{n}"})
            ids.append(contact.id)
            seen: set[str] = set()
            deliver(contact.id, seen)
            enrollment.enqueue(
                enrollment.EnrollRequest(
                    contact_id=contact.id,
                    map_id="plain",
                    enrollment_id=enrollment.enrollment_id_for("plain", contact.id, "bench"),
                    cause_id="bench",
                    event={"type": "broadcast"},
                )
            )
        _consume_all(meter, "consumer")
        for contact_id in ids:
            seen = _history_keys(contact_id)
            with meter.phase("router (map.enrolled)"):
                deliver(contact_id, seen, meter)
        result = {
            "contacts": contacts,
            "per_contact": _per(meter, contacts),
            "partitions": _partitions(meter, "consumer"),
        }
    return result


def _history_keys(contact_id: str) -> set[str]:
    """The sort keys of the contact's history entries but its ``map.enrolled`` (what the stream
    has delivered before the enrollment)."""
    from automaps import aws, config
    from automaps.store.contacts import HISTORY_PREFIX
    from automaps.store.content import to_item

    items = aws.client("dynamodb").query(
        TableName=config.contacts_table(),
        KeyConditionExpression="pk = :pk AND begins_with(sk, :h)",
        ExpressionAttributeValues=to_item({":pk": f"CONTACT#{contact_id}", ":h": HISTORY_PREFIX}),
    )["Items"]
    return {i["sk"]["S"] for i in items if i.get("kind", {}).get("S") != "map.enrolled"}


def run(contacts: int = 20, broadcast: int = 2_000) -> dict[str, Any]:
    began = time.monotonic()
    result: dict[str, Any] = {
        "segment_upkeep": segment_upkeep(contacts),
        "enrollment": enrollment_units(contacts),
    }
    result["broadcast"] = broadcast_units(broadcast)
    result["real_seconds"] = round(time.monotonic() - began, 1)
    return result


def broadcast_units(members: int) -> dict[str, Any]:
    """A segment's occurrence to its members' enrollments, through the EnrollQueue and the real
    consumer (the occurrence's pages, then the enrollment requests they queued); needs
    automaps.journeys.broadcasts. The members are put in the segment unmetered."""
    if members <= 0:
        return {"skipped": "no members asked for"}
    try:
        from automaps.journeys import broadcasts, schedules  # noqa: F401  (sched's occurrence runner)
    except ImportError:
        return {"skipped": "automaps.journeys.broadcasts does not exist yet"}
    from automaps import aws
    from automaps.journeys import enrollment
    from automaps.store.segments import SegmentStore

    began = time.monotonic()
    with world() as w:
        meter: UnitMeter = w["meter"]
        _push_segment()
        segments = SegmentStore()
        for n in range(members):
            segments.enter(SEGMENT_ID, f"c{n:07d}", f"H#bench#{n}")
        arn = aws.client("stepfunctions").create_state_machine(
            name="automaps-newsletter",
            roleArn="arn:aws:iam::123456789012:role/bench",
            definition='{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}',
        )["stateMachineArn"]
        spec = {"cron": "0 9 ? * MON *", "segment": SEGMENT_ID}
        record = enrollment.MapRecord(
            id="newsletter",
            state_machine_arn=arn,
            version="1",
            triggers=[enrollment.Trigger(type="schedule", key=SEGMENT_ID, spec=spec)],
        )
        enrollment.register(record)
        [(trigger, _)] = schedules.moment_triggers(record)
        occurrence = schedules.Occurrence(map_id=record.id, trigger=trigger, at=START.strftime("%Y-%m-%dT%H:%M:%SZ"))
        aws.client("sqs").send_message(
            QueueUrl=os.environ["ENROLL_QUEUE_URL"], MessageBody=occurrence.model_dump_json()
        )
        handled = _consume_all(meter, "broadcast")
        executions = len(_all_executions(arn))
    return {
        "members": members,
        "messages_handled": handled,
        "executions": executions,
        "per_member": _per(meter, members),
        "partitions": _partitions(meter, "broadcast"),
        "real_seconds": round(time.monotonic() - began, 1),
    }


def _all_executions(arn: str) -> list[dict[str, Any]]:
    from automaps import aws

    found: list[dict[str, Any]] = []
    for page in aws.client("stepfunctions").get_paginator("list_executions").paginate(stateMachineArn=arn):
        found.extend(page["executions"])
    return found


# ---------------------------------------------------------------------- the report
def _line(label: str, counts: dict[str, float]) -> str:
    requests = ", ".join(
        f"{k.split('.', 1)[1]} {v:g}" for k, v in counts.items() if k.startswith("ddb.") and "error" not in k
    )
    return (
        f"  {label:<34} {counts.get('ddb_read_units', 0):>6.2f} RRU {counts.get('ddb_write_units', 0):>6.2f} WRU "
        f"+ {counts.get('ddb_index_write_units', 0):>5.2f} index WRU   ({requests})"
    )


def report(result: dict[str, Any]) -> str:
    seg = result["segment_upkeep"]
    lines = [f"\nDynamoDB units per contact (on-demand; index writes counted apart), {seg['contacts']} contacts"]
    lines.append(" segment upkeep: a tag change enters the segment vip, a second one leaves it")
    for phase, counts in seg["with_segment"].items():
        lines.append(_line(phase, counts))
    for phase, counts in seg["upkeep"].items():
        lines.append(_line(f"{phase}: upkeep's own", counts))
    enter = seg.get("partitions_enter")
    if enter:
        lines.append(
            "  router (enter) writes by partition: "
            + ", ".join(f"{k} {v['share']:.0%}" for k, v in enter["by_pattern"].items())
            + " (every transition of a segment writes its member item and one of its 16 counter shards)"
        )
    lines.append(" an enrollment (consumer) and routing its map.enrolled")
    for phase in ("consumer", "router (map.enrolled)"):
        lines.append(_line(phase, result["enrollment"]["per_contact"].get(phase, {})))
    parts = result["enrollment"]["partitions"]
    lines.append(
        f"  consumer writes: {parts['partitions']} partitions, hottest {parts['hottest']} "
        f"{parts['hottest_share']:.1%}; by pattern "
        + ", ".join(f"{k} {v['share']:.1%}" for k, v in parts["by_pattern"].items())
    )
    b = result["broadcast"]
    if "skipped" in b:
        lines.append(f" broadcast: skipped ({b['skipped']})")
    else:
        lines.append(f" broadcast of {b['members']:,} members")
        for phase, counts in b["per_member"].items():
            lines.append(_line(phase, counts))
        p = b["partitions"]
        lines.append(
            f"  writes: {p['write_units']:,.0f} WRU over {p['partitions']:,} partitions; hottest {p['hottest']} "
            f"{p['hottest_share']:.2%}; hottest item {p['hottest_item']} {p['hottest_item_share']:.2%}; by pattern "
            + ", ".join(f"{k} {v['share']:.1%}" for k, v in list(p["by_pattern"].items())[:6])
        )
    lines.append(f"  ({result['real_seconds']} s real)")
    return "\n".join(lines)
