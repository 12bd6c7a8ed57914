"""Every patch of moto internals the local runtime needs, in one place (moto==5.2.5).

``install(clock, invoker)`` applies them, ``uninstall()`` restores the originals; both are
idempotent. ``tests/local/test_moto_patches.py`` fails loudly when moto moves any of these.

* Lambda: ``LambdaSimpleBackend.invoke`` (API calls, Step Functions tasks, SQS deliveries) and
  ``LambdaFunction.invoke`` (SNS, DynamoDB/Kinesis streams) call ``invoker(function_name,
  event)`` in-process instead of echoing (or starting Docker). A handler exception becomes what
  AWS returns for an unhandled error: header ``X-Amz-Function-Error: Unhandled`` and the payload
  ``{"errorType": <class name>, "errorMessage": ...}``. moto's Step Functions Lambda integration
  (``lambda_eval_utils`` -> ``StateTaskServiceLambda._from_error``) turns that into the error
  name ``errorType`` with the payload as Cause, so ``Retry``/``Catch`` match on the class name.
* EventBridge: ``Rule.send_to_targets`` raises NotImplementedError for a Lambda target. A rule's
  Lambda targets now get the event as AWS delivers it (the whole event, ``time`` as ISO-8601 with
  Z, or the target's ``Input``/``InputTransformer``) through ``invoker``, in the PutEvents
  caller's thread; its other targets (SQS, logs, ...) go to moto as before. Lambda invokes
  EventBridge targets asynchronously: PutEvents succeeds whatever the function does, a failure
  is retried twice (Lambda's asynchronous retries, immediately here) and then logged and dropped.
* SES v2: ``SESV2Response.send_email`` ignores ``ConfigurationSetName`` and ``EmailTags``. They
  are kept per message id (:func:`ses_message`) so the runtime can publish the SES events of a
  message with the tags it was sent with (``LocalRuntime.ses_event``).
* SQS: ``Queue.add_message`` tells the runtime's SQS poller (``automaps_local.sqs_events``) that
  a message was stored, in the sender's thread, so the template's ``Type: SQS`` events deliver
  in-process with partial batch failures and redeliveries (moto's own event source mapping
  would delete every message of a batch and never redeliver). SQS reads the virtual clock
  (``unix_time``/``unix_time_millis`` in ``moto.sqs.models``: sent timestamps, visibility
  timeouts, delays, retention), and a long poll returns at once under the discrete clock
  (nothing arrives while virtual time stands still). ``sqs_next_visible`` reads when a queue's
  earliest message is visible again.
* DynamoDB streams: ``StreamShard.add`` (moto records a stream record for every write of a
  table with a stream, and would invoke its Lambda event source mappings right there, inside
  the DynamoDB request and so under the lock below: a handler calling DynamoDB again would run
  inside someone else's request). The runtime creates no mappings in moto; the records a request
  wrote are collected per thread and handed to ``stream_listener(table, shard id, records)``
  (``automaps_local.stream_events``) in the writer's thread right after the request returned,
  outside the lock. A cancelled transaction hands over nothing (its records are removed from
  the shard too, as DynamoDB streams only what was written).
* Virtual time: Wait states (``WaitFunction._wait_interval``), Timestamp/TimestampPath waits
  (``Timestamp._get_wait_seconds`` compares with naive, real ``datetime.now()``), Retry back-off
  (``time.sleep`` in ``retrier_decl``) and execution-history timestamps read the virtual clock.
* Speed (same behaviour, less CPU): ``ExecutionWorker._get_evaluation_entrypoint`` re-parses the
  definition for every execution with a pure-Python ANTLR parser (0.1-0.3 s for a compiled map):
  parsed once per definition, each execution gets its own deep copy (about 10 ms). The Lambda
  integration creates a new boto3 client per Task (about 25 ms): ``lambda_eval_utils
  .boto_client_for`` reuses one per region. ``json_path.parse`` builds a new JSONPath parser per
  path evaluated (about 5 ms): parsed paths are cached.
* Thread safety: moto's DynamoDB backend has no lock, and ``transact_write_items`` deep-copies
  whole tables, which raises "dictionary changed size during iteration" when another execution
  writes meanwhile. ``DynamoHandler.call_action`` runs under one re-entrant lock (re-entrant
  because a stream delivery runs a handler that calls DynamoDB again in the same thread).
  The lock is released before the request's stream records go to the listener (above).
  With requests serialised, a transaction backs up only the items it names (and restores them
  when it is cancelled) instead of deep-copying whole tables: O(items) instead of O(table), which
  made a local journey of transactional steps about 2x slower (``_transaction_backup_patches``).
* DynamoDB concurrency as on AWS (:func:`dynamodb_like_aws`, for threads against moto's server
  mode, not installed by the runtime): each request atomic, and a transaction holds its items
  while it is prepared, so an overlapping transaction is cancelled with ``TransactionConflict``
  and a single write on a held item gets ``TransactionConflictException``.
* EventBridge Scheduler: moto stores schedules but never fires them. :class:`ScheduleFiring`
  (installed by the runtime after ``install``; ``automaps_local.schedules`` re-exports it) fires
  them on the virtual clock: one-time ``at(...)`` schedules as clock participants, recurring
  ``cron(...)`` (``pyawscron``, on the wall clock of ``ScheduleExpressionTimezone``) and
  ``rate(...)`` ones as the clock passes them (``run_until_settled(until=...)`` and ``advance``
  stop at each occurrence), with Scheduler's ``<aws.scheduler.*>`` placeholders filled in.
* Stopping: ``ExecutionWorker.stop`` (StopExecution) tells the clock (``VirtualClock.interrupt``),
  so the execution's sleeping Wait or Retry ends at once: sleeps of executions look at whether
  they were stopped only every ``owned_poll_seconds`` (5 s) by themselves, as thousands of
  waiting executions polling four times a second made a local run slower with every contact.
* Execution accounting: ``ExecutionWorker.start`` makes the execution (keyed by its ARN) a
  participant of the clock from its creation, in the StartExecution caller's thread, and
  ``_execution_logic`` releases it however it ends. Each Wait/Retry sleep names its execution
  (from the context object; none inside Parallel/Map frames), so the clock knows when every
  execution is asleep.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as _dt
import functools
import hashlib
import json
import logging
import re
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from moto.awslambda.models import LambdaFunction
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.models import botocore_stubber
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models import table as dynamodb_table
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.responses import DynamoHandler
from moto.events import models as events_models
from moto.sesv2.responses import SESV2Response
from moto.sqs import models as sqs_models
from moto.stepfunctions.models import StateMachine, StepFunctionBackend
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEventException
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.common.retry.retrier_decl import RetrierDecl
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp import Timestamp
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
from moto.stepfunctions.parser.asl.utils import json_path
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from automaps import aws
from automaps_local.clock import VirtualClock

LOG = logging.getLogger(__name__)

Invoker = Callable[[str, Any], Any]
"""``invoker(function_name, event) -> result``; raising means the function failed."""
SqsListener = Callable[[str], None]
"""``listener(queue_name)``: a message was stored in that queue."""
StreamListener = Callable[[str, str, list[dict[str, Any]]], None]
"""``listener(table_name, shard_id, records)``: the stream records (moto's dicts, in order) one
DynamoDB request wrote, called in the writer's thread once the request has returned."""

_lock = threading.Lock()
_originals: list[tuple[object, str, Any]] = []  # (owner, attribute, original value)
_ses_sends: dict[str, dict[str, Any]] = {}  # SES message id -> configuration set and tags
_stream = threading.local()  # .pending: [(shard, StreamRecord)] of this thread's request; .depth
_stream_listener: StreamListener | None = None  # set by the stream patches (see _stream_patches)


class _ResumeProbe(logging.Filter):
    """moto logs an ERROR for every ``IsPresent`` test of a path that is absent, which every map's
    first Choice ("Resume?": is ``$.resume`` present?) makes on a run that is not a resumed one.
    Step Functions itself treats that as false without an error; so does moto, after logging."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("NoSuchJsonPathError" in message and "'$.resume'" in message)


_RESUME_PROBE = _ResumeProbe()
logging.getLogger("moto.stepfunctions.parser.asl.component.eval_component").addFilter(_RESUME_PROBE)


def installed() -> bool:
    return bool(_originals)


def install(
    clock: VirtualClock,
    invoker: Invoker,
    sqs_listener: SqsListener | None = None,
    stream_listener: StreamListener | None = None,
) -> None:
    """Apply every patch, bound to ``clock``, ``invoker`` and the listeners (re-installing replaces them)."""
    with _lock:
        _restore_locked()
        for owner, name, value in _patches(clock, invoker, sqs_listener, stream_listener):
            _originals.append((owner, name, owner.__dict__[name]))
            setattr(owner, name, value)


@contextlib.contextmanager
def atomic_dynamodb() -> Iterator[None]:
    """Only the DynamoDB thread-safety patch, for tests that use moto without the runtime."""
    with _patched(_thread_safety_patches()):
        yield


@contextlib.contextmanager
def sqs_listener(listener: SqsListener) -> Iterator[None]:
    """Only the SQS add_message hook (real time), for tests that use moto without the runtime."""
    with _patched(_sqs_hook_patches(listener)):
        yield


@contextlib.contextmanager
def stream_listener(listener: StreamListener) -> Iterator[None]:
    """Only the DynamoDB stream hook, inside :func:`atomic_dynamodb` (whose request wrapper hands
    the records over), for tests that use moto without the runtime."""
    if not getattr(DynamoHandler.call_action, "hands_over_stream_records", False):
        raise RuntimeError("stream_listener needs atomic_dynamodb() (or install()) around it")
    with _patched(_stream_patches(listener)):
        yield


@contextlib.contextmanager
def _patched(replacements: list[tuple[object, str, Any]]) -> Iterator[None]:
    """``(owner, name, value)`` set for the duration of the block, the originals restored after."""
    patches = [(owner, name, owner.__dict__[name], value) for owner, name, value in replacements]
    for owner, name, _, value in patches:
        setattr(owner, name, value)
    try:
        yield
    finally:
        for owner, name, original, _ in reversed(patches):
            setattr(owner, name, original)


def uninstall() -> None:
    with _lock:
        _restore_locked()


def _restore_locked() -> None:
    _ses_sends.clear()
    while _originals:
        owner, name, original = _originals.pop()
        setattr(owner, name, original)


def _patches(
    clock: VirtualClock, invoker: Invoker, sqs_listener: SqsListener | None, stream_listener: StreamListener | None
) -> list[tuple[object, str, Any]]:
    return [
        *_lambda_patches(invoker),
        *(_stream_patches(stream_listener) if stream_listener else []),
        *_eventbridge_patches(invoker),
        *_ses_patches(),
        *(_sqs_hook_patches(sqs_listener) if sqs_listener else []),
        *_sqs_time_patches(clock),
        *_time_patches(clock),
        *_execution_patches(clock),
        *_version_patches(),
        *_speed_patches(),
        *_thread_safety_patches(),
    ]


# ---------------------------------------------------------------------- Lambda
def error_payload(error: BaseException, request_id: str = "") -> dict[str, Any]:
    """What the Python Lambda runtime returns for an unhandled exception."""
    return {
        "errorMessage": str(error),
        "errorType": type(error).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_tb(error.__traceback__)[1:],  # without the in-process call below
    }


def _lambda_patches(invoker: Invoker) -> list[tuple[object, str, Any]]:
    def invoke_in_process(fn: LambdaFunction, body: Any, request_headers: Any, response_headers: Any) -> bytes:
        event = json.loads(body) if body else {}
        asynchronous = (request_headers or {}).get("X-Amz-Invocation-Type") == "Event"
        try:
            payload = json.dumps(invoker(fn.function_name, event)).encode()
        except Exception as error:  # noqa: BLE001  (the function's own failure, reported as AWS reports it)
            LOG.info("%s raised %s: %s", fn.function_name, type(error).__name__, error)
            response_headers["x-amz-function-error"] = "Unhandled"
            payload = json.dumps(error_payload(error, str(uuid.uuid4()))).encode()
        return b"" if asynchronous else payload

    def backend_invoke(
        self: LambdaSimpleBackend,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> bytes:
        # replaces the echo of the Docker-less backend
        payload = invoke_in_process(self.get_function(function_name, qualifier), body, headers, response_headers)
        response_headers["Content-Length"] = str(len(payload))
        return payload

    def function_invoke(self: LambdaFunction, body: str, request_headers: Any, response_headers: Any) -> bytes:
        # SNS/stream deliveries call the function object directly (normally Docker)
        return invoke_in_process(self, body, request_headers, response_headers)

    return [(LambdaSimpleBackend, "invoke", backend_invoke), (LambdaFunction, "invoke", function_invoke)]


# ---------------------------------------------------------------------- EventBridge -> Lambda
EVENTBRIDGE_ATTEMPTS = 3  # an asynchronous invocation and Lambda's two retries


def eventbridge_payload(target: dict[str, Any], event: dict[str, Any]) -> Any:
    """What a Lambda target of a rule receives for ``event`` (moto's internal event message)."""
    if "Input" in target:
        return json.loads(target["Input"])
    if "InputTransformer" in target:
        transformer = target["InputTransformer"]
        return events_models.EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=cast(Any, event),
        )
    delivered = {key: copy.deepcopy(value) for key, value in event.items() if key != "ingestion-time"}
    when = delivered.get("time")
    if isinstance(when, (int, float)) or (isinstance(when, str) and when.replace(".", "", 1).isdigit()):
        delivered["time"] = _dt.datetime.fromtimestamp(float(when), _dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return delivered


def _eventbridge_patches(invoker: Invoker) -> list[tuple[object, str, Any]]:
    original_send = events_models.Rule.send_to_targets

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        lambdas = [t for t in self.targets if events_models.parse_arn(t["Arn"]).service == "lambda"]
        others = [t for t in self.targets if t not in lambdas]
        if others:  # moto's own deliveries, on a copy of the rule that names only them
            rule = copy.copy(self)
            rule.targets = others
            original_send(rule, original_event, transform_input)
        if not lambdas or not self.event_pattern.matches_event(original_event):
            return
        for target in lambdas:
            name = events_models.parse_arn(target["Arn"]).resource_id.split(":")[0]
            payload = eventbridge_payload(target, original_event)
            for attempt in range(1, EVENTBRIDGE_ATTEMPTS + 1):
                try:
                    invoker(name, json.loads(json.dumps(payload)))
                    break
                except Exception as error:  # noqa: BLE001  (an asynchronous invocation: nobody waits for the answer)
                    LOG.warning(
                        "%s failed on EventBridge rule %s (attempt %d of %d): %s: %s",
                        name,
                        self.name,
                        attempt,
                        EVENTBRIDGE_ATTEMPTS,
                        type(error).__name__,
                        error,
                    )

    return [(events_models.Rule, "send_to_targets", send_to_targets)]


# ---------------------------------------------------------------------- SES v2 configuration sets and tags
def ses_message(message_id: str) -> dict[str, Any] | None:
    """``{"configuration_set": name or None, "tags": {name: value}}`` of a message sent through
    SES v2 while the patches were installed; None for any other message."""
    return _ses_sends.get(message_id)


def _ses_patches() -> list[tuple[object, str, Any]]:
    original_send = SESV2Response.send_email

    def send_email(self: SESV2Response) -> str:
        answer = original_send(self)
        request = json.loads(self.body)
        _ses_sends[json.loads(answer)["MessageId"]] = {
            "configuration_set": request.get("ConfigurationSetName"),
            "tags": {tag["Name"]: tag["Value"] for tag in request.get("EmailTags") or []},
        }
        return answer

    return [(SESV2Response, "send_email", send_email)]


# ---------------------------------------------------------------------- SQS
def _sqs_hook_patches(listener: SqsListener) -> list[tuple[object, str, Any]]:
    original_add = sqs_models.Queue.add_message

    def add_message(self: Any, message: Any) -> None:
        original_add(self, message)
        listener(self.name)

    return [(sqs_models.Queue, "add_message", add_message)]


def _sqs_time_patches(clock: VirtualClock) -> list[tuple[object, str, Any]]:
    original_receive = sqs_models.SQSBackend.receive_message

    def receive_message(
        self: Any, queue_name: str, count: int, wait_seconds_timeout: int, *args: Any, **kwargs: Any
    ) -> Any:
        # virtual time stands still in discrete mode: a long poll would never end
        wait = 0 if clock.discrete else wait_seconds_timeout
        return original_receive(self, queue_name, count, wait, *args, **kwargs)

    return [
        (sqs_models, "unix_time", lambda: clock.now().timestamp()),
        (sqs_models, "unix_time_millis", lambda: clock.now().timestamp() * 1000),
        (sqs_models.SQSBackend, "receive_message", receive_message),
    ]


def sqs_next_visible(account: str, region: str, queue_name: str) -> float | None:
    """Epoch milliseconds at which the earliest message stored in the queue is visible and not
    delayed any more; None when the queue holds none."""
    queue = sqs_models.sqs_backends[account][region].get_queue(queue_name)
    times = [max(m.visible_at, m.delayed_until) for m in list(queue._messages)]
    return min(times) if times else None


# ---------------------------------------------------------------------- DynamoDB streams
def _stream_patches(listener: StreamListener) -> list[tuple[object, str, Any]]:
    original_add = dynamodb_table.StreamShard.add

    def add(self: dynamodb_table.StreamShard, old: Any, new: Any) -> None:
        # moto stores the record (GetRecords reads it) and would invoke its own mappings (we make
        # none): the record waits for the end of the request instead (_hand_over_stream_records)
        count = len(self.items)
        original_add(self, old, new)
        if len(self.items) > count:
            pending = getattr(_stream, "pending", None)
            if pending is None:
                pending = _stream.pending = []
            pending.append((self, self.items[-1]))

    return [(dynamodb_table.StreamShard, "add", add), (_this_module(), "_stream_listener", listener)]


def _this_module() -> Any:
    import sys

    return sys.modules[__name__]


def _hand_over_stream_records() -> None:
    """After a DynamoDB request (outside the lock): its stream records to the listener, per shard in order."""
    pending = getattr(_stream, "pending", None)
    if not pending:
        return
    _stream.pending = []
    listener = _stream_listener
    if listener is None:
        return
    groups: list[tuple[Any, list[dict[str, Any]]]] = []
    for shard, record in pending:
        if not groups or groups[-1][0] is not shard:
            groups.append((shard, []))
        groups[-1][1].append(record.to_json())
    for shard, records in groups:
        listener(shard.table.name, shard.id, records)


def _drop_stream_records(mark: int) -> None:
    """A cancelled transaction: the records its writes added (after ``mark``) are undone."""
    pending = getattr(_stream, "pending", None) or []
    for shard, record in reversed(pending[mark:]):
        for index in range(len(shard.items) - 1, -1, -1):
            if shard.items[index] is record:
                del shard.items[index]
                break
    del pending[mark:]


# ---------------------------------------------------------------------- virtual time
_retrying = threading.local()  # the Environment of the Retry being evaluated in this thread


def _owner(env: Any) -> str | None:
    """The execution a sleeping state belongs to; None inside a Parallel/Map frame (see clock)."""
    if env is None or env.is_frame():
        return None
    return env.states.context_object.context_object_data["Execution"]["Id"]


class _VirtualTimeModule:
    """Stands in for the ``time`` module inside ``retrier_decl``: only ``sleep`` is virtual."""

    def __init__(self, clock: VirtualClock) -> None:
        self._clock = clock

    def sleep(self, seconds: float) -> None:
        env = getattr(_retrying, "env", None)
        self._clock.sleep(seconds, interrupted=env and (lambda: not env.is_running()), owner=_owner(env))

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def _time_patches(clock: VirtualClock) -> list[tuple[object, str, Any]]:
    original_retrier_body = RetrierDecl._eval_body

    def wait_interval(self: WaitFunction, env: Any, wait_seconds: float) -> None:
        # a Wait sleeps on the virtual clock; StopExecution still interrupts it
        clock.sleep(wait_seconds, interrupted=lambda: not env.is_running(), owner=_owner(env))

    def timestamp_wait_seconds(self: Timestamp, env: Any) -> float:
        # moto subtracts naive real datetime.now() from the UTC timestamp; use the virtual clock
        self.string.eval(env=env)
        text: str = env.stack.pop()
        at = self._from_timestamp_string(timestamp=text)  # naive, UTC, whole seconds (as moto)
        if at is None:
            raise FailureEventException(self._create_failure_event(env, text))
        return (at.replace(tzinfo=_dt.UTC) - clock.now()).total_seconds()

    def retrier_eval_body(self: RetrierDecl, env: Any) -> None:
        # lets the back-off's time.sleep (below) know which execution is sleeping
        _retrying.env = env
        try:
            original_retrier_body(self, env)
        finally:
            _retrying.env = None

    def current_timestamp() -> _dt.datetime:
        # execution history events carry virtual time, like the contact's history
        return clock.now()

    return [
        (WaitFunction, "_wait_interval", wait_interval),
        (Timestamp, "_get_wait_seconds", timestamp_wait_seconds),
        (RetrierDecl, "_eval_body", retrier_eval_body),
        (retrier_decl, "time", _VirtualTimeModule(clock)),  # the back-off's time.sleep
        (EventManager, "_get_current_timestamp", staticmethod(current_timestamp)),
    ]


# ---------------------------------------------------------------------- execution threads
def _execution_patches(clock: VirtualClock) -> list[tuple[object, str, Any]]:
    original_start = ExecutionWorker.start
    original_logic = ExecutionWorker._execution_logic

    def start(self: ExecutionWorker) -> None:
        # counted from creation, in the StartExecution caller's thread: no idle gap before the thread runs
        key = clock.begin(self._evaluation_details.execution_details.arn)
        self._automaps_clock = (clock, key)  # type: ignore[attr-defined]
        try:
            original_start(self)
        except BaseException:
            self._automaps_clock = None  # type: ignore[attr-defined]
            clock.end(key)
            raise

    def execution_logic(self: ExecutionWorker) -> None:
        counted = getattr(self, "_automaps_clock", None)
        try:
            original_logic(self)
        finally:
            if counted is not None:  # released however the execution ended
                counted[0].end(counted[1])

    original_stop = ExecutionWorker.stop

    def stop(self: ExecutionWorker, stop_date: Any, error: Any, cause: Any) -> None:
        # a sleeping Wait or Retry of the execution looks at once (its sleep polls only every few seconds)
        original_stop(self, stop_date, error, cause)
        clock.interrupt(self._evaluation_details.execution_details.arn)

    return [
        (ExecutionWorker, "start", start),
        (ExecutionWorker, "_execution_logic", execution_logic),
        (ExecutionWorker, "stop", stop),
    ]


# ---------------------------------------------------------------------- versions and aliases
def _version_patches() -> list[tuple[object, str, Any]]:
    """Executions started on a state machine's version or alias, as on AWS: they run that
    version's definition (pinned: a later publish does not change them) and are the machine's
    executions (listed, described and stopped through its ARN). moto stores versions and aliases
    but cannot start on an alias, and keeps a version's executions apart from the machine's."""
    original_describe = StepFunctionBackend.describe_state_machine
    original_start = StepFunctionsParserBackend.start_execution

    def describe_state_machine(self: StepFunctionBackend, arn: str) -> Any:
        parts = arn.split(":")
        if len(parts) == 8 and not parts[7].isdigit():  # an alias: the version it routes to
            machine = original_describe(self, ":".join(parts[:7]))
            alias = getattr(machine, "aliases", {}).get(parts[7])
            if alias is not None:
                routes = sorted(alias.routing_configuration, key=lambda r: -int(r.get("weight", 0)))
                return original_describe(self, routes[0]["stateMachineVersionArn"])
        return original_describe(self, arn)

    def start_execution(
        self: StepFunctionsParserBackend,
        state_machine_arn: str,
        name: Any = None,
        execution_input: Any = None,
        trace_header: Any = None,
    ) -> Any:
        parts = state_machine_arn.split(":")
        if len(parts) == 8:
            machine: StateMachine = original_describe(self, ":".join(parts[:7]))
            version = self.describe_state_machine(state_machine_arn)
            version.executions = machine.executions  # one list: the machine's executions (names unique)
            version._handle_name_input_idempotency = machine._handle_name_input_idempotency  # type: ignore[method-assign]
            version.backend = machine.backend
        execution = original_start(self, state_machine_arn, name, execution_input, trace_header)
        if len(parts) == 8:
            execution.state_machine_arn = ":".join(parts[:7])
            execution.automaps_version_arn = execution.state_machine.arn  # type: ignore[attr-defined]
        return execution

    return [
        (StepFunctionBackend, "describe_state_machine", describe_state_machine),
        (StepFunctionsParserBackend, "start_execution", start_execution),
    ]


# ---------------------------------------------------------------------- speed
def _speed_patches() -> list[tuple[object, str, Any]]:
    original_entrypoint = ExecutionWorker._get_evaluation_entrypoint
    programs: dict[str, Any] = {}
    lock = threading.Lock()

    def evaluation_entrypoint(self: ExecutionWorker) -> Any:
        # parse once per definition; every execution evaluates its own copy of the program
        definition = self._evaluation_details.state_machine_details.definition
        with lock:
            program = programs.get(definition)
        if program is None:
            program = original_entrypoint(self)
            with lock:
                program = programs.setdefault(definition, program)
        return copy.deepcopy(program)

    original_client_for = lambda_eval_utils.boto_client_for
    clients: dict[tuple[str, str, bool], Any] = {}

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        # moto ignores the credentials (fixed fake keys); boto3 clients are thread-safe
        key = (region, service, botocore_stubber.enabled)
        with lock:
            found = clients.get(key)
        if found is None:
            found = original_client_for(region=region, service=service, state_credentials=state_credentials)
            with lock:
                found = clients.setdefault(key, found)
        return found

    return [
        (ExecutionWorker, "_get_evaluation_entrypoint", evaluation_entrypoint),
        (lambda_eval_utils, "boto_client_for", boto_client_for),
        (json_path, "parse", functools.lru_cache(maxsize=4096)(json_path.parse)),  # parsed paths are immutable
    ]


# ---------------------------------------------------------------------- thread safety
def _thread_safety_patches() -> list[tuple[object, str, Any]]:
    original_call_action = DynamoHandler.call_action
    lock = threading.RLock()

    def call_action(self: DynamoHandler) -> Any:
        # one DynamoDB request at a time: concurrent executions otherwise corrupt moto's tables
        depth = getattr(_stream, "depth", 0)
        _stream.depth = depth + 1
        try:
            with lock:
                return original_call_action(self)
        finally:
            _stream.depth = depth
            if depth == 0:  # the request is over and the lock released: its stream records go out
                _hand_over_stream_records()

    call_action.hands_over_stream_records = True  # type: ignore[attr-defined]
    return [(DynamoHandler, "call_action", call_action), *_transaction_backup_patches(), *_partition_query_patches()]


# ---------------------------------------------------------------------- queries read their partition only
_partition = threading.local()  # .only: (table, its items of one partition) while that table is queried


def _partition_query_patches() -> list[tuple[object, str, Any]]:
    """moto's ``Table.query`` finds its candidates in ``Table.all_items()``: every item of the table,
    sorted, for each Query, of the table or of an index: O(table log table) where DynamoDB reads
    one partition. A Query of the table, or of a local secondary index (``ByKind``: its HASH key is
    the table's), can only return items of the partition its key condition names; while it runs,
    ``all_items`` of that table answers those items (in moto's order) and moto does the rest as
    before: key and range conditions, sort order, ``ScanIndexForward``, ``Limit``, pages
    (``ExclusiveStartKey``), filters, projections, counts. Global secondary indexes (another HASH
    key) and scans read every item as before. Per thread, so concurrent requests cannot see it."""
    original_query = dynamodb_table.Table.query
    original_all_items = dynamodb_table.Table.all_items

    def all_items(self: dynamodb_table.Table) -> list[Any]:
        only = getattr(_partition, "only", None)
        if only is not None and only[0] is self:
            return list(only[1])
        return original_all_items(self)

    def query(
        self: dynamodb_table.Table,
        hash_key: Any,
        range_comparison: Any,
        range_objs: Any,
        limit: Any,
        exclusive_start_key: Any,
        scan_index_forward: Any,
        projection_expressions: Any,
        index_name: str | None = None,
        consistent_read: bool = False,
        filter_expression: Any = None,
        hash_key_conditions: Any = None,
        range_key_conditions: Any = None,
        **filter_kwargs: Any,
    ) -> Any:
        def run() -> Any:
            return original_query(
                self,
                hash_key,
                range_comparison,
                range_objs,
                limit,
                exclusive_start_key,
                scan_index_forward,
                projection_expressions,
                index_name,
                consistent_read,
                filter_expression,
                hash_key_conditions=hash_key_conditions,
                range_key_conditions=range_key_conditions,
                **filter_kwargs,
            )

        value = _queried_partition(self, hash_key, index_name, hash_key_conditions)
        if value is None or getattr(_partition, "only", None) is not None:
            return run()
        stored = self.items.get(value)  # never self.items[value]: it inserts into the defaultdict
        if stored is None:
            rows: list[Any] = []
        elif self.range_key_attr:
            rows = sorted(stored.values(), key=lambda item: item.range_key)
        else:
            rows = [stored]
        _partition.only = (self, rows)
        try:
            return run()
        finally:
            _partition.only = None

    return [(dynamodb_table.Table, "query", query), (dynamodb_table.Table, "all_items", all_items)]


def _queried_partition(
    table: dynamodb_table.Table, hash_key: Any, index_name: str | None, hash_key_conditions: Any
) -> Any:
    """The table's partition key value a Query can only read from; None when it may read any
    (a global secondary index, or a call moto's backend does not make)."""
    if index_name is None:
        return hash_key if isinstance(hash_key, DynamoType) else None
    local = next((index for index in table.indexes or [] if index.name == index_name), None)
    if local is None:
        return None
    hashes = [key["AttributeName"] for key in local.schema if key["KeyType"] == "HASH"]
    conditions = hash_key_conditions or []
    if hashes != [table.hash_key_attr] or len(conditions) != 1 or conditions[0][0] != table.hash_key_attr:
        return None
    value = conditions[0][1]
    return value if isinstance(value, DynamoType) else None


# ---------------------------------------------------------------------- transactions back up their items only
class _TablesNotCopied:
    """moto's ``transact_write_items`` backs up every table it touches with ``copy.deepcopy`` to undo
    a cancelled transaction: O(table) per transaction, most of a local journey's DynamoDB time. Seen
    through this stand-in for the ``copy`` module, a Table is not copied during a transaction; the
    patched method backs up and restores the transaction's own items instead (the only ones it can
    write). Safe because requests are serialised (``call_action`` above)."""

    active = threading.local()

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        if getattr(self.active, "on", False) and isinstance(value, dynamodb_table.Table):
            return value
        return copy.deepcopy(value, memo)


def _transaction_backup_patches() -> list[tuple[object, str, Any]]:
    original = DynamoDBBackend.transact_write_items
    shim = _TablesNotCopied()

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        backup = _backup_items(self, transact_items)
        mark = len(getattr(_stream, "pending", None) or [])
        shim.active.on = True
        try:
            original(self, transact_items)
        except BaseException:
            _restore_items(backup)
            _drop_stream_records(mark)
            raise
        finally:
            shim.active.on = False

    return [(dynamodb_models, "copy", shim), (DynamoDBBackend, "transact_write_items", transact_write_items)]


_Backup = list[tuple[Any, Any, Any, Any]]  # (table, hash value, range value or None, item copy or None)


def _backup_items(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> _Backup:
    backup: _Backup = []
    for entry in transact_items:
        op = next(iter(entry.values()), None) if isinstance(entry, dict) else None
        if not isinstance(op, dict) or op.get("TableName") not in backend.tables:
            continue  # moto refuses it before it writes anything
        table = backend.tables[op["TableName"]]
        key = op.get("Key") or op.get("Item")
        if not isinstance(key, dict) or table.hash_key_attr not in key:
            continue
        if table.has_range_key and table.range_key_attr not in key:
            continue
        hash_value = DynamoType(key[table.hash_key_attr])
        range_value = DynamoType(key[table.range_key_attr]) if table.has_range_key else None
        stored = table.items.get(hash_value)  # never table.get_item: it inserts into the defaultdict
        current = stored.get(range_value) if table.has_range_key and isinstance(stored, dict) else stored
        backup.append((table, hash_value, range_value, copy.deepcopy(current)))
    return backup


def _restore_items(backup: _Backup) -> None:
    for table, hash_value, range_value, item in reversed(backup):
        if table.has_range_key:
            rows = table.items[hash_value]
            if item is None:
                rows.pop(range_value, None)
                if not rows:
                    table.items.pop(hash_value, None)
            else:
                rows[range_value] = item
        elif item is None:
            table.items.pop(hash_value, None)
        else:
            table.items[hash_value] = item


# ---------------------------------------------------------------------- DynamoDB concurrency as on AWS
@dataclass
class ConflictLog:
    """What :func:`dynamodb_like_aws` answered: one ``(operation, table, key)`` per conflict."""

    conflicts: list[tuple[str, str, str]] = field(default_factory=list)
    transactions: int = 0


@contextlib.contextmanager
def dynamodb_like_aws(prepare_seconds: float = 0.01) -> Iterator[ConflictLog]:
    """DynamoDB's concurrency, for many threads against moto's server mode
    (tests/faults/test_concurrency.py). Not part of :func:`install`.

    moto applies a request without isolation (a transaction backs up whole tables and restores
    them on cancel, wiping what another thread wrote meanwhile) and never answers a conflict.
    DynamoDB makes every request atomic, and a ``TransactWriteItems`` holds its items while it
    is prepared: another transaction on one of them is cancelled with reason
    ``TransactionConflict``, a single write on one of them gets ``TransactionConflictException``.
    Here each request is applied under one lock, and a transaction first claims its items and
    keeps them ``prepare_seconds`` *outside* that lock, while other requests go on, so
    overlapping writers really conflict."""
    from moto.dynamodb.exceptions import DynamodbException, TransactionCanceledException

    log = ConflictLog()
    lock, claims_lock = threading.RLock(), threading.Lock()
    claims: set[tuple[str, str]] = set()
    refused: dict[int, Exception] = {}  # the answer to give, by handler (one per request)
    original_call_action = DynamoHandler.call_action
    writes = ("transact_write_items", "put_item", "update_item", "delete_item")
    originals = {name: DynamoHandler.__dict__[name] for name in writes}

    def key_of(handler: DynamoHandler, op: dict[str, Any]) -> tuple[str, str]:
        table = handler.dynamodb_backend.get_table(op["TableName"])
        attrs = op.get("Key") or op.get("Item") or {}
        names = [table.hash_key_attr, *([table.range_key_attr] if table.range_key_attr else [])]
        return op["TableName"], json.dumps({name: attrs.get(name) for name in names}, sort_keys=True)

    def call_action(self: DynamoHandler) -> Any:
        action = self._get_action()
        params = getattr(self, "params", None) or {}
        mine: list[tuple[str, str]] = []
        if action == "TransactWriteItems":
            keys = [key_of(self, next(iter(item.values()))) for item in params.get("TransactItems", [])]
            with claims_lock:
                taken = [key in claims for key in keys]
                if not any(taken):
                    claims.update(keys)
                    mine = keys
            log.transactions += 1
            if any(taken):
                log.conflicts.extend((action, *key) for key, hit in zip(keys, taken, strict=True) if hit)
                refused[id(self)] = TransactionCanceledException(
                    [
                        ("TransactionConflict", "Transaction is ongoing for the item", None)
                        if hit
                        else (None, None, None)
                        for hit in taken
                    ]
                )
            else:
                time.sleep(prepare_seconds)  # prepared: the items are held while others go on
        elif action in ("PutItem", "UpdateItem", "DeleteItem"):
            key = key_of(self, params)
            with claims_lock:
                held = key in claims
            if held:
                log.conflicts.append((action, *key))
                refused[id(self)] = DynamodbException(
                    "com.amazonaws.dynamodb.v20120810#TransactionConflictException",
                    "Transaction is ongoing for the item",
                )
        try:
            with lock:
                return original_call_action(self)
        finally:
            refused.pop(id(self), None)
            with claims_lock:
                claims.difference_update(mine)

    def refusing(name: str) -> Any:
        original = originals[name]

        def write(self: DynamoHandler) -> Any:
            answer = refused.get(id(self))
            if answer is not None:
                raise answer
            return original(self)

        return write

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    for name in writes:
        setattr(DynamoHandler, name, refusing(name))
    try:
        yield log
    finally:
        DynamoHandler.call_action = original_call_action  # type: ignore[method-assign]
        for name, original in originals.items():
            setattr(DynamoHandler, name, original)


# ---------------------------------------------------------------------- EventBridge Scheduler
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
_AT = re.compile(r"at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)")
_CRON = re.compile(r"cron\((.+)\)")
_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def next_occurrence(expression: str, timezone: str, after: datetime, since: datetime) -> datetime | None:
    """The first moment of a Scheduler expression strictly after ``after`` (UTC), as EventBridge
    Scheduler reads it: ``cron(...)`` (six fields) on the wall clock of ``timezone`` (so 09:00 stays
    09:00 local across a DST change; a time the change skips runs an hour later, one it repeats
    runs once), ``rate(N unit)`` every N from ``since`` (the schedule's creation), ``at(...)`` once,
    in ``timezone``. None: no more (an ``at`` already past ``after``)."""
    zone = ZoneInfo(timezone or "UTC")
    at = _AT.fullmatch(expression)
    if at:
        moment = datetime.fromisoformat(at.group(1)).replace(tzinfo=zone).astimezone(UTC)
        return moment if moment > after else None
    rate = _RATE.fullmatch(expression)
    if rate:
        period = int(rate.group(1)) * _UNIT_SECONDS[rate.group(2).rstrip("s")]
        elapsed = max(0.0, (after - since).total_seconds())
        return since + _dt.timedelta(seconds=(int(elapsed // period) + 1) * period)
    cron = _CRON.fullmatch(expression)
    if not cron:
        raise ValueError(f"not an EventBridge Scheduler expression: {expression!r}")
    from pyawscron import AWSCron

    rule, local = AWSCron(cron.group(1)), after.astimezone(zone).replace(tzinfo=None)
    while True:  # pyawscron counts on a UTC clock: give it the local wall time, read the answer as local
        found = rule.occurrence(local.replace(tzinfo=UTC)).next()
        if found is None:
            return None
        wall = found.replace(tzinfo=None)
        moment = wall.replace(tzinfo=zone).astimezone(UTC)
        if moment > after:
            return moment
        local = wall


def substitute(text: str, schedule_arn: str, scheduled: datetime, attempt: int = 1) -> str:
    """Scheduler's context attributes in a target's ``Input``."""
    execution = hashlib.sha256(f"{schedule_arn}\n{scheduled.isoformat()}".encode()).hexdigest()
    values = {
        SCHEDULED_TIME: scheduled.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "<aws.scheduler.schedule-arn>": schedule_arn,
        "<aws.scheduler.execution-id>": str(uuid.UUID(execution[:32])),
        "<aws.scheduler.attempt-number>": str(attempt),
    }
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return text


@dataclass
class _Schedule:
    group: str
    name: str
    arn: str
    expression: str
    timezone: str
    since: datetime
    one_time: bool
    due: datetime | None


class ScheduleFiring:
    """moto's EventBridge Scheduler stores schedules but never fires them; this fires them on the
    virtual clock, delivering each target as Scheduler would.

    It watches CreateSchedule/UpdateSchedule/DeleteSchedule on the shared Scheduler client
    (botocore hooks; the creation's virtual time is when a ``rate`` counts from and what a
    ``cron`` is due after) and keeps one poller thread. Targets: an SQS queue (``SendMessage`` of
    the ``Input``, with ``<aws.scheduler.scheduled-time>``, ``-schedule-arn>``, ``-execution-id>``
    and ``-attempt-number>`` substituted), what the backend schedules (long waits' resumes,
    maps' occurrences); a Lambda function (Invoke with the ``Input``), what the template's
    ``ScheduleV2`` events schedule (the segment sweep); other targets are logged, not delivered.
    ``FlexibleTimeWindow`` is
    taken as OFF; a failed delivery is not retried.

    * **One-time** ``at(...)`` (in its ``ScheduleExpressionTimezone``): the poller is a participant
      of the clock while one is pending, so ``run_until_settled`` and ``--fast-forward`` wait for it
      and jump to it, as for a Wait state. Once fired it is deleted (``ActionAfterCompletion:
      DELETE``) or disabled.
    * **Recurring** ``cron(...)`` and ``rate(...)`` (:func:`next_occurrence`): a participant
      would keep the clock jumping from one occurrence to the next forever, so they are not one.
      An occurrence fires when virtual time reaches it: ``run_until_settled(until=T)`` and
      ``advance`` (both wrapped by :meth:`install` on the clock instance) stop at each occurrence
      up to T, fire it and go on; ``run_until_settled()`` without ``until`` settles once the
      executions have (recurring schedules do not hold it). When the clock jumps past an
      occurrence otherwise (a Wait's deadline, ``--fast-forward``), the poller fires it at once,
      late, with its own scheduled time.
    """

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self._lock = threading.RLock()
        self._changed = threading.Event()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._member: Any = None  # the poller's clock participation, while a one-time schedule is pending
        self._since: dict[tuple[str, str], datetime] = {}  # created/updated at (virtual time)
        self._fired: dict[tuple[str, str], datetime] = {}  # a recurring schedule's last occurrence fired
        self._driving = 0  # run_until_settled/advance wrappers in progress: they fire what falls due
        self._wrapped: dict[str, Any] = {}
        self._snapshot: list[tuple[str, str, str, str, str]] | None = None  # what moto holds, until it changes
        self._generation = 0  # counts the changes: a read that overlapped one is not kept
        self.fired = 0
        self.deliveries: list[tuple[str, str, str]] = []  # (group, name, scheduled time) of each firing

    # ------------------------------------------------------------------ installing
    def install(self) -> ScheduleFiring:
        events = aws.client("scheduler").meta.events
        for operation in ("CreateSchedule", "UpdateSchedule"):
            events.register(f"provide-client-params.scheduler.{operation}", self._writing)
            events.register(f"after-call.scheduler.{operation}", self._written)
        events.register("after-call.scheduler.DeleteSchedule", self._written)
        for name in ("run_until_settled", "advance"):
            self._wrapped[name] = getattr(self.clock, name)
        self.clock.run_until_settled = self._run_until_settled  # type: ignore[method-assign]
        self.clock.advance = self._advance  # type: ignore[method-assign]
        return self

    def _writing(self, params: dict[str, Any], **_: Any) -> None:
        key = (str(params.get("GroupName") or "default"), str(params.get("Name")))
        with self._lock:
            self._since[key] = self.clock.now()
            self._fired.pop(key, None)

    def _written(self, **_: Any) -> None:
        with self._lock:
            self._snapshot, self._generation = None, self._generation + 1
            self._changed.set()
            if self._closed.is_set():
                return
            if self._member is None:  # in the writer's thread: the clock never looks idle meanwhile
                self._member = self.clock.begin(("scheduler",))
            if self._thread is None:
                self._thread = threading.Thread(target=self._poll, daemon=True, name="scheduler")
                self._thread.start()

    # ------------------------------------------------------------------ what is due
    def _stored(self) -> list[tuple[str, str, str, str, str]]:
        """(group, name, ARN, expression, timezone) of the enabled schedules, read from moto once
        per change (the hooks on CreateSchedule/UpdateSchedule/DeleteSchedule forget it)."""
        with self._lock:
            if self._snapshot is not None:
                return self._snapshot
            generation = self._generation
        scheduler, found = aws.client("scheduler"), []
        for page in scheduler.get_paginator("list_schedules").paginate():
            for summary in page["Schedules"]:
                if summary.get("State") == "DISABLED":
                    continue
                try:
                    schedule = scheduler.get_schedule(GroupName=summary["GroupName"], Name=summary["Name"])
                except scheduler.exceptions.ResourceNotFoundException:
                    continue
                expression = schedule.get("ScheduleExpression", "")
                zone = schedule.get("ScheduleExpressionTimezone") or "UTC"
                found.append((summary["GroupName"], summary["Name"], schedule["Arn"], expression, zone))
        with self._lock:
            if generation == self._generation:  # nothing changed while it was read
                self._snapshot = found
        return found

    def schedules(self) -> list[_Schedule]:
        """The enabled schedules, each with its next moment (None: nothing more to fire)."""
        found, now = [], self.clock.now()
        for group, name, arn, expression, zone in self._stored():
            with self._lock:
                since = self._since.setdefault((group, name), now)
                after = self._fired.get((group, name), since)
            one_time = expression.startswith("at(")
            due = (
                next_occurrence(expression, zone, _dt.datetime.min.replace(tzinfo=UTC), since)
                if one_time
                else next_occurrence(expression, zone, after, since)
            )
            found.append(_Schedule(group, name, arn, expression, zone, since, one_time, due))
        return found

    def next_due(self, one_time: bool | None = None) -> datetime | None:
        """The earliest moment a schedule (only one-time ones, only recurring ones) is due."""
        due = [s.due for s in self.schedules() if s.due is not None and (one_time is None or s.one_time == one_time)]
        return min(due) if due else None

    # ------------------------------------------------------------------ the poller
    def _poll(self) -> None:
        try:
            while not self._closed.is_set():
                self._changed.clear()
                firm, soft = self.next_due(one_time=True), self.next_due(one_time=False)
                with self._lock:
                    if firm is None and self._member is not None and not self._changed.is_set():
                        self.clock.end(self._member)
                        self._member = None
                    member = self._member
                nearest = min((at for at in (firm, soft) if at is not None), default=None)
                if not self.clock.discrete:  # scaled time: sleep until the next moment, whatever it is
                    if nearest is None:
                        self._changed.wait(self.clock.poll_seconds)
                    elif self.clock.sleep_until(nearest, interrupted=self._changed.is_set):
                        self.fire_due(nearest)
                    continue
                if soft is not None and soft <= self.clock.now() and not self._driving:
                    with self.clock.hold():  # the clock jumped past it: fired late, with its own time
                        self.fire_due(soft)
                    continue
                if firm is not None and member is not None and nearest is not None:
                    if self.clock.sleep_until(nearest, interrupted=self._changed.is_set, owner=member):
                        self.fire_due(nearest)
                    continue
                self._changed.wait(self.clock.poll_seconds)
        except Exception:  # a poller must not die silently
            LOG.exception("schedule poller stopped")
        finally:
            with self._lock:
                self._thread = None
                if self._member is not None:
                    self.clock.end(self._member)
                    self._member = None

    # ------------------------------------------------------------------ firing
    def fire_due(self, at: datetime) -> int:
        """Fire every schedule due at ``at`` or before (each occurrence once); how many fired."""
        fired = 0
        with self._lock:
            for schedule in sorted(self.schedules(), key=lambda s: (s.due or at, s.group, s.name)):
                while schedule.due is not None and schedule.due <= at:
                    self._fire(schedule, schedule.due)
                    fired += 1
                    if schedule.one_time:
                        break
                    schedule.due = next_occurrence(schedule.expression, schedule.timezone, schedule.due, schedule.since)
        return fired

    def fire(self, group: str, name: str) -> None:
        """Fire the schedule now, at its next moment (one-time: its moment)."""
        with self._lock:
            found = next((s for s in self.schedules() if (s.group, s.name) == (group, name)), None)
            if found is not None and found.due is not None:
                self._fire(found, found.due)

    def _fire(self, schedule: _Schedule, at: datetime) -> None:
        """Deliver the target for the occurrence ``at``; a one-time schedule is then deleted or disabled."""
        scheduler = aws.client("scheduler")
        current = scheduler.get_schedule(GroupName=schedule.group, Name=schedule.name)
        target = current["Target"]
        if not schedule.one_time:
            self._fired[(schedule.group, schedule.name)] = at
        if ":sqs:" in target["Arn"]:
            queue = target["Arn"].rsplit(":", 1)[1]
            url = aws.client("sqs").get_queue_url(QueueName=queue)["QueueUrl"]
            body = substitute(target.get("Input", ""), schedule.arn, at)
            aws.client("sqs").send_message(QueueUrl=url, MessageBody=body)
        elif ":lambda:" in target["Arn"] and ":function:" in target["Arn"]:  # (asynchronously, as Scheduler does)
            payload = substitute(target.get("Input", "{}"), schedule.arn, at)
            try:
                aws.client("lambda").invoke(FunctionName=target["Arn"], Payload=payload.encode())
            except Exception:
                LOG.exception("schedule %s/%s: invoking %s failed", schedule.group, schedule.name, target["Arn"])
        else:
            LOG.warning(
                "schedule %s/%s: target %s is not delivered locally", schedule.group, schedule.name, target["Arn"]
            )
        self.fired += 1
        self.deliveries.append((schedule.group, schedule.name, at.strftime("%Y-%m-%dT%H:%M:%SZ")))
        if not schedule.one_time:
            return
        if current.get("ActionAfterCompletion") == "DELETE":
            scheduler.delete_schedule(GroupName=schedule.group, Name=schedule.name)
        else:
            keep = ("ScheduleExpression", "ScheduleExpressionTimezone", "FlexibleTimeWindow", "Target")
            update = {k: current[k] for k in keep if k in current}
            scheduler.update_schedule(GroupName=schedule.group, Name=schedule.name, State="DISABLED", **update)

    # ------------------------------------------------------------------ the clock, through recurring moments
    def _run_until_settled(self, until: Any = None, timeout: float = 30.0) -> bool:
        run = self._wrapped["run_until_settled"]
        cap = self.clock.now() + until if isinstance(until, _dt.timedelta) else until
        if cap is None:
            return bool(run(None, timeout))
        if cap.tzinfo is None:
            cap = cap.replace(tzinfo=UTC)
        with self._driving_block():
            while True:
                soft = self.next_due(one_time=False)
                if soft is None or soft > cap:
                    break
                run(soft, timeout)  # the executions, one-time schedules, redeliveries up to it
                if self.clock.now() < soft:
                    self._wrapped["advance"]((soft - self.clock.now()).total_seconds())
                with self.clock.hold():
                    self.fire_due(soft)
        return bool(run(cap, timeout))

    def _advance(self, seconds: float) -> datetime:
        advance = self._wrapped["advance"]
        target = self.clock.now() + _dt.timedelta(seconds=seconds)
        with self._driving_block():
            while True:
                soft = self.next_due(one_time=False)
                if soft is None or soft > target:
                    break
                if self.clock.now() < soft:
                    advance((soft - self.clock.now()).total_seconds())
                with self.clock.hold():
                    self.fire_due(soft)
        moved: datetime = advance(max(0.0, (target - self.clock.now()).total_seconds()))
        return moved

    @contextlib.contextmanager
    def _driving_block(self) -> Iterator[None]:
        with self._lock:
            self._driving += 1
        try:
            yield
        finally:
            with self._lock:
                self._driving -= 1

    def close(self) -> None:
        self._closed.set()
        self._changed.set()
        for name, original in self._wrapped.items():
            if getattr(self.clock, name, None) is not original:
                with contextlib.suppress(AttributeError):
                    delattr(self.clock, name)  # the instance attribute: the class's method again
        self._wrapped.clear()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=5)
