"""The intake consumer: enrollment requests from the ``EnrollQueue`` (SQS) into maps.

Lambda polls the queue (batches of up to 10, ``ReportBatchItemFailures``); each message is one
:class:`automaps.journeys.enrollment.EnrollRequest`, enrolled by :func:`automaps.journeys.enrollment.enroll_request`
(claim the entry gate, store the enrollment, StartExecution under the deterministic name,
``map.enrolled`` once). Powertools' ``BatchProcessor`` answers the messages that failed; Lambda
deletes the others. A failed message is made invisible for a back-off that grows with its
receive count (``ChangeMessageVisibility``): 10 s, 20 s, 40 s, ... at most 900 s, each
shortened by up to half by a jitter fixed per message. After ``MAX_RECEIVES`` receives SQS
moves it to the dead-letter queue, whose depth raises an alarm; the entry gate is never left
claimed, since every failed start restores it (``enrollment._revert``).

Two other kinds of message share the queue: ``{"kind": "resume"}`` (a long wait's end,
automaps.journeys.handoff) and ``{"kind": "occurrence"}`` (a moment's schedule fired, or a
broadcast's next page: automaps.journeys.broadcasts reads one page of the audience and queues its
enrollment requests). A failed one backs off the same way. A broadcast's request given up on (its
last receive failed) is counted as failed in the run's progress (automaps.store.broadcasts).

**Pacing.** Every StartExecution first takes a token from its poller's :class:`StartPacer` (called
by ``enrollment._start``): a token bucket of ``starts_per_second / pollers`` tokens a second
holding at most ``burst / pollers`` (``config.enroll_start_pacing``; the pollers are the event
source's ``MaximumConcurrency``), so all pollers together stay under the configured rate. Lambda
runs one invocation at a time per execution environment, so the bucket lives in the process
(one per thread, for in-process runtimes that run pollers as threads) and carries over between
invocations. A ``ThrottlingException`` empties it (the shared quota is spent) and the message
backs off as above. Local buckets cost nothing; a shared DynamoDB bucket item would add a
conditional write per start (and a hot item at 300 writes/s) to guard against a risk the
back-off already absorbs: a new environment starting with a full bucket.
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any, Protocol

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from automaps import aws, config
from automaps.journeys.enrollment import EnrollRequest, StartDeferred, enroll_request

logger = Logger(child=True)

BACKOFF_BASE_SECONDS = 10
BACKOFF_CAP_SECONDS = 900
MAX_RECEIVES = 10  # the EnrollQueue's RedrivePolicy maxReceiveCount (template.yaml)


def consume(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    """The SQS event's messages, each enrolled or reported failed (never the whole batch)."""
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(event=event, record_handler=handle, processor=processor, context=context)


def handle(record: SQSRecord) -> dict[str, Any]:
    from automaps.journeys import broadcasts, handoff, segments

    occurrence = broadcasts.parse(record.body)  # a moment's schedule fired, or a broadcast's next page
    if occurrence is not None:
        try:
            return broadcasts.run(occurrence)
        except Exception as error:
            delay = back_off(record)
            logger.exception(
                "occurrence page failed",
                extra={
                    "map_id": occurrence.map_id,
                    "page": occurrence.page,
                    "error": type(error).__name__,
                    "retry_in_seconds": delay,
                },
            )
            raise
    filling = segments.parse_fill(record.body)  # a page of a new segment's fill (automaps.journeys.segments)
    if filling is not None:
        try:
            return segments.fill(filling)
        except Exception as error:
            delay = back_off(record)
            logger.exception("segment fill page failed", extra={"error": type(error).__name__, "retry_in": delay})
            raise
    resume = handoff.parse(record.body)  # a long wait's schedule, at its end (automaps.journeys.handoff)
    if resume is not None:
        try:
            done = handoff.resume(resume)
        except Exception as error:
            delay = back_off(record)
            logger.exception("resume failed", extra={"error": type(error).__name__, "retry_in_seconds": delay})
            raise
        logger.info("resume handled", extra={"enrollment_id": resume.enrollment_id, "done": done})
        return {"resumed": done}
    try:
        request = EnrollRequest.model_validate_json(record.body)
    except ValidationError as error:  # never enrollable: log it, and the DLQ keeps it for a look
        logger.error(
            "not an enrollment request",
            extra={"message_id": record.message_id, "errors": error.errors(include_input=False)},
        )
        back_off(record)
        raise
    keys = {
        "map_id": request.map_id,
        "enrollment_id": request.enrollment_id,
        "contact_id": request.contact_id,
        "receive_count": _receives(record),
    }
    try:
        result = enroll_request(request)
    except StartDeferred as deferred:
        delay = back_off(record)
        logger.warning("enrollment deferred", extra={**keys, "reason": deferred.reason, "retry_in_seconds": delay})
        _given_up(record, request, deferred.reason)
        raise
    except Exception as error:
        delay = back_off(record)
        logger.exception("enrollment failed", extra={**keys, "error": type(error).__name__, "retry_in_seconds": delay})
        _given_up(record, request, type(error).__name__)
        raise
    logger.info("enrollment handled", extra={**keys, "outcome": result.outcome})
    return result.model_dump(mode="json")


def _given_up(record: SQSRecord, request: EnrollRequest, reason: str) -> None:
    """The last receive failed (SQS moves the message to the dead-letter queue): a broadcast's
    progress counts the member failed, once."""
    if _receives(record) < MAX_RECEIVES:
        return
    from automaps.store.broadcasts import BroadcastStore, run_key_of

    run = run_key_of(request.event, request.map_id)
    if run is None:
        return
    try:
        BroadcastStore().failed_once(run, request.contact_id, request.enrollment_id, reason)
    except (ClientError, BotoCoreError) as error:  # the count is a report; the message is what matters
        logger.warning("could not count a failed member", extra={"error": type(error).__name__})


def backoff_seconds(message_id: str, receive_count: int) -> int:
    """The delay before the ``receive_count``-th receive of a message is retried."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, receive_count - 1))
    jitter = int(hashlib.sha256(message_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF  # 0..1, fixed per message
    return max(1, round(ceiling * (1 - jitter / 2)))


def back_off(record: SQSRecord) -> int | None:
    """Hide the failed message for its back-off; None if SQS refused (it then returns after the
    queue's visibility timeout, 180 s)."""
    delay = backoff_seconds(record.message_id, _receives(record))
    try:
        aws.client("sqs").change_message_visibility(
            QueueUrl=config.enroll_queue_url(), ReceiptHandle=record.receipt_handle, VisibilityTimeout=delay
        )
    except (ClientError, BotoCoreError) as error:  # the retry still happens, later
        logger.warning(
            "could not set the back-off", extra={"message_id": record.message_id, "error": type(error).__name__}
        )
        return None
    return delay


def _receives(record: SQSRecord) -> int:
    try:
        return int(record.attributes.approximate_receive_count or 1)
    except ValueError:
        return 1


class PacingTimer(Protocol):
    """Where the pacer reads time and waits: real time in Lambda; a bench or test may install its own."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class RealTime:
    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class StartPacer:
    """A token bucket: ``rate`` tokens a second, at most ``capacity`` held (it starts full)."""

    def __init__(self, rate: float, capacity: float, timer: PacingTimer) -> None:
        self.rate, self.capacity, self.timer = rate, capacity, timer
        self.tokens, self.at = capacity, timer.monotonic()
        self.waited = 0.0  # seconds slept for tokens, in total

    def _refill(self) -> None:
        now = self.timer.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now

    def acquire(self) -> None:
        """Take one token, sleeping until there is one."""
        self._refill()
        while self.tokens < 1 - 1e-9:  # not 1: rounding must not leave a wait too short to move a clock
            wait = (1 - self.tokens) / self.rate
            self.timer.sleep(wait)
            self.waited += wait
            self._refill()
        self.tokens -= 1

    def throttled(self) -> None:
        """Step Functions said its bucket is empty: take nothing more until ours refills."""
        self._refill()
        self.tokens = min(self.tokens, 0.0)


_timer: PacingTimer = RealTime()
_pacers: dict[int, tuple[tuple[float, float, int], PacingTimer, StartPacer]] = {}
_pacers_lock = threading.Lock()


def use_timer(timer: PacingTimer) -> PacingTimer:
    """Install the pacers' time source (their buckets start again, full); returns the previous one."""
    global _timer
    with _pacers_lock:
        previous, _timer = _timer, timer
        _pacers.clear()
    return previous


def pacer() -> StartPacer:
    """This poller's bucket, per the configured pacing (a new, full one when the setting changed)."""
    setting = config.enroll_start_pacing()
    key = threading.get_ident()
    with _pacers_lock:
        found = _pacers.get(key)
        if found is None or found[0] != setting or found[1] is not _timer:
            per_second, burst, pollers = setting
            bucket = StartPacer(per_second / pollers, max(1.0, burst / pollers), _timer)
            found = _pacers[key] = (setting, _timer, bucket)
    return found[2]
