"""Enrollment at scale: the real intake consumer against Step Functions' StartExecution quota.

N enrollment requests (real ``EnrollRequest`` bodies) sit on the EnrollQueue (moto). ``pollers``
threads stand for the EnrollFunction's concurrent pollers (the event source's MaximumConcurrency):
each receives batches of 10 with their real attributes and calls
``automaps.journeys.enroll_queue.consume`` (gate, enrollment, StartExecution, back-off), then
deletes what the answer did not report failed, as Lambda does. Step Functions is moto's (state
machines are not run) behind a stand-in that enforces the published quota on the virtual clock:
a StartExecution bucket of 1,300 refilled 300 a second, ``ThrottlingException`` when it is empty
(a ``before-call.sfn.StartExecution`` hook). Time is a discrete-event clock: one poller thread runs
at a time, API calls take no virtual time, a pacer's sleep or an idle poll moves the clock; SQS
visibility (the back-off) reads the same clock (a moto patch, here only).

Reported: the virtual time to start all, as a ratio to the quota floor ((N - 1,300) / 300 s),
starts lost (no execution) and doubled (a second successful StartExecution for one enrollment),
throttles, and the real time the run took.

:func:`run` is that on moto (tests/faults/test_pacing.py; about 1 hour for 100,000).
:func:`run_memory` runs the same consumer against the in-memory services of bench.memory (100,000
in about a minute), optionally as one broadcast occurrence to a segment (the occurrence runner's
pages) and with request latencies; :func:`scale` is what ``python -m bench --only enrollment``
runs.
"""

from __future__ import annotations

import heapq
import itertools
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from bench.local_aws import quiet_fake_aws

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
BUCKET, REFILL = 1300, 300.0  # StartExecution, standard workflows, us-east-1 / us-west-2 / eu-west-1
IDLE_POLL_SECONDS = 0.1  # how soon an idle poller looks again (Lambda long-polls; it answers on arrival)
MAP_ID = "broadcast"


class VirtualTime:
    """A discrete-event clock for threads: one runs at a time; ``sleep`` hands over to the thread
    that is due first and moves the clock to its moment. Implements ``automaps.clock.Clock`` and
    ``enroll_queue.PacingTimer``."""

    def __init__(self) -> None:
        self.t = 0.0
        self._lock = threading.Lock()
        self._due: list[tuple[float, int, threading.Event]] = []
        self._seq = itertools.count()
        self.done = threading.Event()

    def now(self) -> datetime:
        return START + timedelta(seconds=self.t)

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        turn = threading.Event()
        with self._lock:
            heapq.heappush(self._due, (self.t + max(0.0, seconds), next(self._seq), turn))
            self._hand_over_locked()
        turn.wait()

    def run(self, workers: list[Callable[[], None]]) -> None:
        """Run the workers as threads, each from t = 0, until all returned."""

        def body(work: Callable[[], None], turn: threading.Event) -> None:
            turn.wait()
            try:
                work()
            finally:
                with self._lock:
                    self._hand_over_locked()

        threads = []
        with self._lock:
            for work in workers:
                turn = threading.Event()
                heapq.heappush(self._due, (0.0, next(self._seq), turn))
                threads.append(threading.Thread(target=body, args=(work, turn), daemon=True))
        for thread in threads:
            thread.start()
        with self._lock:
            self._hand_over_locked()
        self.done.wait()
        for thread in threads:
            thread.join()

    def _hand_over_locked(self) -> None:
        if not self._due:
            self.done.set()
            return
        at, _, turn = heapq.heappop(self._due)
        self.t = max(self.t, at)
        turn.set()


class StepFunctionsQuota:
    """StartExecution's token bucket on the virtual clock: refused with ThrottlingException when empty."""

    def __init__(self, clock: VirtualTime, bucket: float = BUCKET, refill: float = REFILL) -> None:
        self.clock, self.bucket, self.refill = clock, bucket, refill
        self.tokens, self.at = bucket, clock.t
        self.throttles = 0
        self.started: Counter[str] = Counter()  # execution name -> successful StartExecution answers
        self.last_start = 0.0

    def before(self, params: dict[str, Any] | None = None, **_: Any) -> None:
        """Take a token, or refuse with ThrottlingException (botocore's before-call hook, or the
        in-memory Step Functions' ``before_start``)."""
        now = self.clock.t
        self.tokens = min(self.bucket, self.tokens + (now - self.at) * self.refill)
        self.at = now
        if self.tokens < 1:
            self.throttles += 1
            refusal: Any = {
                "Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
                "ResponseMetadata": {"HTTPStatusCode": 400},
            }
            raise ClientError(refusal, "StartExecution")
        self.tokens -= 1

    def after(self, http_response: Any, parsed: dict[str, Any], model: Any, **kwargs: Any) -> None:
        if http_response.status_code == 200:
            self.record(parsed["executionArn"].rsplit(":", 1)[-1])

    def record(self, name: str) -> None:
        self.started[name] += 1
        self.last_start = self.clock.t

    @contextmanager
    def installed(self, sfn: Any) -> Iterator[StepFunctionsQuota]:
        sfn.meta.events.register("before-call.sfn.StartExecution", self.before)
        sfn.meta.events.register("after-call.sfn.StartExecution", self.after)
        try:
            yield self
        finally:
            sfn.meta.events.unregister("before-call.sfn.StartExecution", self.before)
            sfn.meta.events.unregister("after-call.sfn.StartExecution", self.after)


@contextmanager
def sqs_on(clock: VirtualTime) -> Iterator[None]:
    """moto's SQS (sent times, visibility) on the virtual clock."""
    from moto.sqs import models as sqs_models

    saved = sqs_models.unix_time, sqs_models.unix_time_millis
    sqs_models.unix_time = lambda: clock.now().timestamp()  # type: ignore[assignment,misc]
    sqs_models.unix_time_millis = lambda: clock.now().timestamp() * 1000  # type: ignore[assignment,misc]
    try:
        yield
    finally:
        sqs_models.unix_time, sqs_models.unix_time_millis = saved


def _record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": "us-east-1",
    }


def _requests(members: int) -> list[Any]:
    from automaps.journeys import enrollment

    requests = []
    for n in range(members):
        contact = f"c{n:07d}"
        enrollment_id = enrollment.enrollment_id_for(MAP_ID, contact, "run-1")
        requests.append(
            enrollment.EnrollRequest(
                contact_id=contact,
                map_id=MAP_ID,
                enrollment_id=enrollment_id,
                cause_id="run-1",
                event={"type": "broadcast"},
            )
        )
    return requests


class Feeder:
    """Keeps at least WINDOW requests on the queue until all are sent (moto's ReceiveMessage scans
    every stored message: a queue of 100,000 would make the run quadratic). Sending takes no
    virtual time, so this is the same as queueing all at t = 0."""

    WINDOW = 2000

    def __init__(self, sqs: Any, queue_url: str, requests: list[Any]) -> None:
        self.sqs, self.queue_url, self.requests, self.sent, self.deleted = sqs, queue_url, requests, 0, 0

    def top_up(self) -> None:
        while self.sent < len(self.requests) and self.sent - self.deleted < self.WINDOW:
            chunk = self.requests[self.sent : self.sent + 10]
            self.sqs.send_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "MessageBody": r.model_dump_json()} for i, r in enumerate(chunk)],
            )
            self.sent += len(chunk)


def _poller(clock: VirtualTime, feeder: Feeder, queue_arn: str, stats: Counter[str]) -> Callable[[], None]:
    from automaps import aws
    from automaps.journeys import enroll_queue

    sqs, queue_url = aws.client("sqs"), feeder.queue_url

    def work() -> None:
        while True:
            feeder.top_up()
            messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]).get(
                "Messages", []
            )
            if not messages:
                left = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
                stored = int(left["ApproximateNumberOfMessages"]) + int(left["ApproximateNumberOfMessagesNotVisible"])
                if stored == 0 and feeder.sent == len(feeder.requests):
                    return
                stats["idle_polls"] += 1
                clock.sleep(IDLE_POLL_SECONDS)
                continue
            stats["batches"] += 1
            if os.environ.get("BENCH_PROGRESS") and stats["batches"] % 100 == 0:
                print(f"  {stats['batches']} batches, t={clock.t:.1f} s virtual", flush=True)
            answer = enroll_queue.consume({"Records": [_record(m, queue_arn) for m in messages]}, None)
            failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
            stats["failed_messages"] += len(failed)
            done = [m for m in messages if m["MessageId"] not in failed]
            feeder.deleted += len(done)
            for chunk in range(0, len(done), 10):
                sqs.delete_message_batch(
                    QueueUrl=queue_url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(done[chunk : chunk + 10])
                    ],
                )

    return work


def run(
    members: int,
    pollers: int = 10,
    bucket: float = BUCKET,
    refill: float = REFILL,
    environment: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Enroll ``members`` contacts through the consumer; the measures (see the module docstring)."""
    from moto import mock_aws

    from automaps import aws, clock
    from automaps.journeys import enroll_queue, enrollment
    from automaps_local.moto_patches import atomic_dynamodb
    from automaps_local.stack import LocalStack
    from automaps_local.template import Template

    quiet_fake_aws()
    began = time.monotonic()
    virtual = VirtualTime()
    with mock_aws(), atomic_dynamodb(), sqs_on(virtual), clock.using(virtual):
        aws.reset()
        stack = LocalStack(Template.load(ROOT / "template.yaml"))
        stack.create_data()
        stack.resolver.refs.setdefault("PublicApi", "local")
        saved_env = dict(os.environ)
        stack.export_environment()
        os.environ.update(environment or {})
        os.environ["ENROLL_POLLERS"] = str(pollers)
        previous_timer = enroll_queue.use_timer(virtual)
        try:
            sfn = aws.client("stepfunctions")
            role = "arn:aws:iam::123456789012:role/bench"
            arn = sfn.create_state_machine(
                name=f"automaps-{MAP_ID}",
                roleArn=role,
                definition='{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}',
            )["stateMachineArn"]
            enrollment.register(
                enrollment.MapRecord(
                    id=MAP_ID,
                    state_machine_arn=arn,
                    version="1",
                    triggers=[enrollment.Trigger(type="broadcast", key=MAP_ID)],
                )
            )
            sqs = aws.client("sqs")
            queue_url = os.environ["ENROLL_QUEUE_URL"]
            queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            requests = _requests(members)
            names = {enrollment.execution_name(MAP_ID, r.enrollment_id) for r in requests}
            feeder = Feeder(sqs, queue_url, requests)
            queued = time.monotonic()
            stats: Counter[str] = Counter()
            quota = StepFunctionsQuota(virtual, bucket, refill)
            with quota.installed(sfn):
                virtual.run([_poller(virtual, feeder, queue_arn, stats) for _ in range(pollers)])
            stored = {e["name"] for e in _executions(sfn, arn)}
            dead = int(
                sqs.get_queue_attributes(
                    QueueUrl=os.environ["ENROLL_QUEUE_URL"].replace("EnrollQueue", "EnrollDeadLetterQueue"),
                    AttributeNames=["ApproximateNumberOfMessages"],
                )["Attributes"]["ApproximateNumberOfMessages"]
            )
        finally:
            enroll_queue.use_timer(previous_timer)
            os.environ.clear()
            os.environ.update(saved_env)
            aws.reset()
    floor = max(0.0, (members - bucket) / refill)
    per_second, burst = 290.0, 1200.0  # the template's defaults
    return {
        "members": members,
        "pollers": pollers,
        "quota": {"bucket": bucket, "refill_per_second": refill},
        "pacing": {
            "starts_per_second": (environment or {}).get("ENROLL_STARTS_PER_SECOND", per_second),
            "burst": (environment or {}).get("ENROLL_STARTS_BURST", burst),
        },
        "virtual_seconds": round(quota.last_start, 2),
        "floor_seconds": round(floor, 2),
        "ratio_to_floor": round(quota.last_start / floor, 4) if floor else None,
        "lost": len(names - stored - set(quota.started)),
        "doubled": sum(count - 1 for count in quota.started.values() if count > 1),
        "executions": len(stored),
        "throttles": quota.throttles,
        "dead_letters": dead,
        "batches": stats["batches"],
        "failed_messages": stats["failed_messages"],
        "real_seconds": round(time.monotonic() - began, 1),
        "real_seconds_queueing": round(queued - began, 1),
    }


TYPICAL_LATENCY = {"dynamodb": 0.005, "stepfunctions": 0.025, "sqs": 0.010}
"""Seconds per request, for the run with latencies: DynamoDB single-item requests, StartExecution,
SQS (typical in-region figures; the zero-latency run measures the pacing alone)."""


def run_memory(
    members: int,
    pollers: int = 10,
    bucket: float = BUCKET,
    refill: float = REFILL,
    environment: dict[str, str] | None = None,
    latency: dict[str, float] | None = None,
    broadcast: bool = False,
) -> dict[str, Any]:
    """:func:`run` with in-memory SQS, DynamoDB and Step Functions (bench.memory) instead of moto:
    the same consumer, entry gate and stores, fast enough for 100,000 members and more. All
    requests are queued at t = 0; with ``broadcast``, one occurrence of a weekly schedule to the
    segment ``vip`` holding the members is, and the consumer's occurrence runner pages through
    them (automaps.journeys.broadcasts: pages of 1,000, their requests, progress and outcome
    counters). ``latency``: virtual seconds each request takes, by service (the poller waits for
    its answer, the others run meanwhile)."""
    from moto import mock_aws

    from automaps import aws, clock
    from automaps.journeys import enroll_queue, enrollment
    from automaps_local.stack import LocalStack
    from automaps_local.template import Template
    from bench import memory

    quiet_fake_aws()
    latency = latency or {}
    began = time.monotonic()
    virtual = VirtualTime()
    with mock_aws(), clock.using(virtual):  # moto only for the stack's names (nothing is called on it)
        aws.reset()
        stack = LocalStack(Template.load(ROOT / "template.yaml"))
        stack.create_data()
        stack.resolver.refs.setdefault("PublicApi", "local")
        saved_env = dict(os.environ)
        stack.export_environment()
        os.environ.update(environment or {})
        os.environ["ENROLL_POLLERS"] = str(pollers)
        queue_url = os.environ["ENROLL_QUEUE_URL"]
        queue_arn = "arn:aws:sqs:us-east-1:123456789012:" + queue_url.rsplit("/", 1)[-1]
        quota = StepFunctionsQuota(virtual, bucket, refill)
        sqs = memory.SQS(virtual, queue_url, queue_url + "-dlq", latency=latency.get("sqs", 0.0), sleep=virtual.sleep)
        db = memory.DynamoDB(latency=latency.get("dynamodb", 0.0), sleep=virtual.sleep)
        sfn = memory.StepFunctions(
            before_start=quota.before,
            after_start=quota.record,
            latency=latency.get("stepfunctions", 0.0),
            sleep=virtual.sleep,
        )
        aws.reset()
        aws._clients.update({"sqs": sqs, "dynamodb": db, "stepfunctions": sfn})
        previous_timer = enroll_queue.use_timer(virtual)
        try:
            arn = f"arn:aws:states:us-east-1:123456789012:stateMachine:automaps-{MAP_ID}"
            if broadcast:
                names = _broadcast(db, sqs, arn, members)
            else:
                enrollment.register(
                    enrollment.MapRecord(
                        id=MAP_ID,
                        state_machine_arn=arn,
                        version="1",
                        triggers=[enrollment.Trigger(type="broadcast", key=MAP_ID)],
                    )
                )
                requests = _requests(members)
                names = {enrollment.execution_name(MAP_ID, r.enrollment_id) for r in requests}
                for at in range(0, members, 10):
                    sqs.send_message_batch(
                        QueueUrl=queue_url,
                        Entries=[
                            {"Id": str(i), "MessageBody": r.model_dump_json()}
                            for i, r in enumerate(requests[at : at + 10])
                        ],
                    )
            db.units = memory.Units()  # the registry's write is not the enrollments'
            queued = time.monotonic()
            stats: Counter[str] = Counter()
            busy = {"now": 0, "peak": 0}
            virtual.run([_memory_poller(virtual, sqs, queue_arn, stats, busy) for _ in range(pollers)])
            progress = _progress(db) if broadcast else None
        finally:
            enroll_queue.use_timer(previous_timer)
            os.environ.clear()
            os.environ.update(saved_env)
            aws.reset()
    floor = max(0.0, (members - bucket) / refill)
    per_second, burst = 290.0, 1200.0  # the template's defaults
    contacts = Counter(arn.rsplit(":", 1)[-1] for arn in sfn.executions)
    return {
        "members": members,
        "pollers": pollers,
        "backend": "in-memory SQS, DynamoDB and Step Functions (bench.memory)",
        "audience": "one broadcast occurrence to a segment" if broadcast else "enrollment requests queued at once",
        "latency_seconds": latency,
        "quota": {"bucket": bucket, "refill_per_second": refill},
        "pacing": {
            "starts_per_second": float((environment or {}).get("ENROLL_STARTS_PER_SECOND", per_second)),
            "burst": float((environment or {}).get("ENROLL_STARTS_BURST", burst)),
        },
        "virtual_seconds": round(quota.last_start, 2),
        "floor_seconds": round(floor, 2),
        "ratio_to_floor": round(quota.last_start / floor, 4) if floor else None,
        "lost": len(names - set(quota.started)),
        "doubled": sum(count - 1 for count in quota.started.values() if count > 1),
        "executions": len(sfn.executions),
        "executions_per_name_max": max(contacts.values(), default=0),
        "throttles": quota.throttles,
        "dead_letters": len(sqs.dead),
        "batches": stats["batches"],
        "failed_messages": stats["failed_messages"],
        "idle_polls": stats["idle_polls"],
        "peak_concurrency": busy["peak"],
        **({"broadcast_progress": progress} if progress is not None else {}),
        "sqs_requests": dict(sqs.requests),
        "dynamodb_per_enrollment": {
            "read_units": round(db.units.read / members, 3),
            "write_units": round(db.units.write / members, 3),
            "requests": {k: round(v / members, 3) for k, v in sorted(db.units.requests.items())},
        },
        "real_seconds": round(time.monotonic() - began, 1),
        "real_seconds_queueing": round(queued - began, 1),
    }


def _broadcast(db: Any, sqs: Any, arn: str, members: int) -> set[str]:
    """The segment ``vip`` holding ``members`` contacts (its member items, as SegmentStore writes
    them), a map on a weekly schedule to it, and that schedule's occurrence on the queue; returns
    the execution names the members' enrollments will have."""
    from automaps import config
    from automaps.journeys import broadcasts, enrollment, schedules
    from automaps.store.content import to_item

    table = config.contacts_table()
    for n in range(members):  # in contact id order, as a Query reads them
        item = to_item({"pk": "SEGMENT#vip", "sk": f"CONTACT#c{n:07d}", "contact_id": f"c{n:07d}", "entered_at": "x"})
        db._store(table, ("SEGMENT#vip", f"CONTACT#c{n:07d}"), item)
    record = enrollment.MapRecord(
        id=MAP_ID,
        state_machine_arn=arn,
        version="1",
        triggers=[enrollment.Trigger(type="schedule", key="vip", spec={"cron": "0 9 ? * MON *", "segment": "vip"})],
    )
    enrollment.register(record)
    [(trigger, _)] = schedules.moment_triggers(record)
    at = START.strftime("%Y-%m-%dT%H:%M:%SZ")
    occurrence = schedules.Occurrence(map_id=MAP_ID, trigger=trigger, at=at)
    sqs.send_message(QueueUrl=sqs.queue_url, MessageBody=occurrence.model_dump_json())
    cause = broadcasts.cause_for(trigger, at)
    return {
        enrollment.execution_name(MAP_ID, enrollment.enrollment_id_for(MAP_ID, f"c{n:07d}", cause))
        for n in range(members)
    }


def _progress(db: Any) -> dict[str, int]:
    """The broadcast's run item (pages, found, queued) and its outcome counters, summed, as
    ``automaps broadcast`` would show them (read from the stand-in, unmetered)."""
    from automaps import config
    from automaps.store.content import from_item

    found: Counter[str] = Counter()
    for (pk, sk), item in db.tables[config.contacts_table()].items():
        if pk.startswith("BROADCAST#") and (sk == "COUNT" or sk.startswith("RUN#")):
            plain = from_item(item)
            for name in ("pages", "found", "queued", "started", "skipped", "failed"):
                found[name] += int(plain.get(name, 0) or 0)
    return dict(found)


def _memory_poller(
    clock: VirtualTime, sqs: Any, queue_arn: str, stats: Counter[str], busy: dict[str, int]
) -> Callable[[], None]:
    """One concurrent EnrollFunction: receive up to 10, invoke the consumer, delete what it did not
    report failed (as Lambda's event source mapping does); done when the queue holds nothing."""
    from automaps.journeys import enroll_queue

    def work() -> None:
        while True:
            messages = sqs.receive_message(QueueUrl=sqs.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                if sqs.stored() == 0:
                    return
                stats["idle_polls"] += 1
                clock.sleep(IDLE_POLL_SECONDS)
                continue
            stats["batches"] += 1
            if os.environ.get("BENCH_PROGRESS") and stats["batches"] % 1000 == 0:
                print(f"  {stats['batches']} batches, t={clock.t:.1f} s virtual", flush=True)
            busy["now"] += 1
            busy["peak"] = max(busy["peak"], busy["now"])
            try:
                answer = enroll_queue.consume({"Records": [_record(m, queue_arn) for m in messages]}, None)
            finally:
                busy["now"] -= 1
            failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
            stats["failed_messages"] += len(failed)
            done = [m for m in messages if m["MessageId"] not in failed]
            if done:
                sqs.delete_message_batch(
                    QueueUrl=sqs.queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
                )

    return work


def _executions(sfn: Any, arn: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn):
        found.extend(page["executions"])
    return found


def report(result: dict[str, Any]) -> str:
    ratio = result["ratio_to_floor"]
    latency = result.get("latency_seconds")
    latency_text = (
        ", requests taking " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in latency.items()) if latency else ""
    )
    lines = [
        (
            f"\nEnrollment: {result['members']:,} members through the intake consumer ({result['pollers']} pollers, "
            f"pacing {result['pacing']['starts_per_second']}/s, burst {result['pacing']['burst']}{latency_text}) "
            f"against StartExecution's quota (bucket {result['quota']['bucket']:,.0f}, "
            f"{result['quota']['refill_per_second']:.0f}/s); {result.get('backend', 'moto')}"
        ),
        (
            f"  started all in {result['virtual_seconds']:,.1f} s virtual; floor {result['floor_seconds']:,.1f} s; "
            f"ratio {ratio if ratio is None else f'{ratio:.3f}'} (target <= 1.05)"
        ),
        (
            f"  lost {result['lost']}, doubled {result['doubled']}, executions {result['executions']:,}, "
            f"throttles {result['throttles']}, dead letters {result['dead_letters']}"
            + (f", peak consumer concurrency {result['peak_concurrency']}" if "peak_concurrency" in result else "")
        ),
        (
            f"  {result['batches']:,} batches, {result['failed_messages']} messages retried; "
            f"{result['real_seconds']} s real ({result['real_seconds_queueing']} s queueing)"
        ),
    ]
    if "audience" in result:
        lines.insert(1, f"  {result['audience']}")
    if "broadcast_progress" in result:
        p = result["broadcast_progress"]
        lines.append(
            f"  broadcast progress: {p.get('pages', 0)} pages, {p.get('found', 0):,} found, {p.get('queued', 0):,} queued, "
            f"{p.get('started', 0):,} started, {p.get('skipped', 0)} skipped, {p.get('failed', 0)} failed"
        )
    if "dynamodb_per_enrollment" in result:
        units = result["dynamodb_per_enrollment"]
        requests = ", ".join(f"{k} {v:g}" for k, v in units["requests"].items())
        lines.append(
            f"  DynamoDB per enrollment: {units['read_units']:g} RRU, {units['write_units']:g} WRU ({requests})"
        )
    return "\n".join(lines)


def scale(members: int = 100_000, million: bool = False) -> dict[str, Any]:
    """What ``python -m bench --only enrollment`` runs (in-memory services, bench.memory): one
    broadcast occurrence to a segment of ``members``, paced alone (requests take no time), then
    with typical request latencies at 10 pollers (the template's EnrollPollers) and at 20; with
    ``million``, 1,000,000 enrollment requests queued at once, paced alone (about 12 minutes and
    11 GB: the stand-ins keep every item)."""
    results: dict[str, Any] = {"paced": run_memory(members, broadcast=True)}
    results["with_latency"] = {
        str(pollers): run_memory(members, pollers=pollers, latency=TYPICAL_LATENCY, broadcast=True)
        for pollers in (10, 20)
    }
    if million:
        results["million"] = run_memory(1_000_000)
    return results


def report_scale(results: dict[str, Any]) -> str:
    parts = [report(results["paced"])]
    parts += [report(r) for r in results.get("with_latency", {}).values()]
    if "million" in results:
        earlier = " (from an earlier run with --million)" if results["million"].get("from_an_earlier_run") else ""
        parts.append(report(results["million"]) + earlier)
    return "\n".join(parts)


if __name__ == "__main__":
    import sys

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    print(report(run_memory(count) if "--memory" in sys.argv else run(count)))
