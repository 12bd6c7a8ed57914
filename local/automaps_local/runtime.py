"""The whole backend in one process: moto as the AWS account, handlers called in-process.

    with LocalRuntime("template.yaml") as rt:          # discrete-event clock by default
        rt.invoke("PublicApiFunction", api_event)       # or through automaps_local.http
        rt.run_until_settled()                          # every execution to its end
        rt.outbox()["emails"], rt.contact("jane@example.com")

``LocalRuntime`` starts ``mock_aws`` (Step Functions executing ASL, Lambda without Docker),
builds the stack from template.yaml (``LocalStack``: tables, secret, queues, functions, state
machines, routes), exports the functions' environment, verifies the ``EmailFrom`` identity in
SES, installs the virtual clock as ``automaps.clock`` and the moto patches, and runs every
handler in-process: ``functions/<dir>/app.py`` imported as ``functions.<dir>.app``. The
functions' ``Type: SQS`` events are polled in-process (``automaps_local.sqs_events``): a message
is delivered before its SendMessage returns, and a failed one again once its visibility ends.
Their ``Type: DynamoDB`` events (the ContactsTable's stream) are delivered by
``automaps_local.stream_events``: after the writing request, asynchronously, on the virtual clock.
Only one runtime can be active at a time (the patches and the clock are process-wide).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any, Self

from automaps import aws
from automaps import clock as app_clock
from automaps_local import moto_patches, observe
from automaps_local.clock import VirtualClock
from automaps_local.schedules import ScheduleFiring
from automaps_local.sqs_events import SqsDelivery
from automaps_local.stack import ACCOUNT, REGION, LocalFunction, LocalStack, Route
from automaps_local.stream_events import StreamDelivery
from automaps_local.template import Template

LOG = logging.getLogger(__name__)

MOTO_CONFIG: Any = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",  # DynamoDB streams under moto need it
}
_active: LocalRuntime | None = None

Listener = Callable[[LocalFunction, Any, Any, BaseException | None], None]


@dataclass
class FakeContext:
    """The Lambda context object handlers receive (the attributes Powertools reads)."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    identity: Any = None
    client_context: Any = None
    _started: float = field(default_factory=time.monotonic)

    @classmethod
    def of(cls, function: LocalFunction) -> FakeContext:
        return cls(function.name, function.arn, function.memory, function.timeout)

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/[$LATEST]{self.aws_request_id[:8]}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))


class LocalRuntime:
    def __init__(
        self,
        template: str | Path = "template.yaml",
        *,
        clock: VirtualClock | None = None,
        start: datetime | None = None,
        time_scale: float | None = None,
        parameters: dict[str, Any] | None = None,
        public_url: str = "http://127.0.0.1:3000",
        missing_definitions: str = "error",
        environment: dict[str, str] | None = None,
        schedule_events: bool = True,
    ) -> None:
        self.template_path = Path(template).resolve()
        self.schedule_events = schedule_events
        """Fire the template's ``ScheduleV2`` events (the hourly segment sweep) on the clock; tests
        that run for months without needing them turn them off (an invocation an hour adds up)."""
        self.clock = clock or VirtualClock(start=start, time_scale=time_scale)
        self.parameters = parameters or {}
        self.public_url = public_url.rstrip("/")
        self.missing_definitions = missing_definitions
        self.environment = environment or {}  # extra variables, e.g. POWERTOOLS_METRICS_DISABLED
        self.listeners: list[Listener] = []
        self._modules: dict[str, Callable[..., Any]] = {}
        self._import_lock = threading.Lock()
        self._saved_env: dict[str, str | None] = {}
        self._mock: Any = None
        self._previous_clock: Any = None
        self.stack: LocalStack | None = None
        self.outbox_reader: observe.Outbox | None = None
        self.sqs: SqsDelivery | None = None  # the template's Type: SQS events, delivered in-process
        self.streams: StreamDelivery | None = None  # the template's Type: DynamoDB events, likewise
        self.schedules: ScheduleFiring | None = None  # EventBridge Scheduler one-time schedules, fired on the clock

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> Self:
        global _active
        if _active is not None:
            raise RuntimeError("another LocalRuntime is active in this process; close it first")
        _active = self
        try:
            self._setenv(FAKE_AWS_ENV)
            from moto import mock_aws

            self._mock = mock_aws(config=MOTO_CONFIG)
            self._mock.start()
            aws.reset()
            self._build_stack()
            self._previous_clock = app_clock.set_clock(self.clock)
            self.sqs = SqsDelivery(self._stack.sqs_event_sources(), self._invoke_by_name, self.clock)
            self.streams = StreamDelivery(self._stack.dynamodb_event_sources(), self._invoke_by_name, self.clock)
            moto_patches.install(self.clock, self._invoke_by_name, self.sqs.added, self.streams.added)
            self.schedules = ScheduleFiring(self.clock).install()
            if self.schedule_events:
                self._stack.create_schedule_events()
            self.outbox_reader = observe.Outbox(ACCOUNT, REGION, self.clock.now)
        except BaseException:
            self.close()
            raise
        return self

    def _build_stack(self) -> None:
        stack = self.stack = LocalStack(Template.load(self.template_path), parameters=self.parameters)
        stack.create_data()
        stack.resolver.refs.setdefault("PublicApi", "local")  # the REST API id, only used in URLs
        stack.create_functions()
        stack.create_event_rules()
        stack.create_state_machines(missing=self.missing_definitions)
        self._setenv({**stack.export_environment(), "PUBLIC_API_URL": self.public_url, **self.environment})
        sender = stack.resolver.refs.get("EmailFrom")
        if sender:
            aws.client("sesv2").create_email_identity(EmailIdentity=str(sender))

    def close(self) -> None:
        global _active
        if _active is not self:
            return
        try:
            if self._mock is not None:
                self._stop_executions()
            self.clock.close()
            if self.sqs is not None:
                self.sqs.close()
            if self.streams is not None:
                self.streams.close()
            if self.schedules is not None:
                self.schedules.close()
            self.clock.wait_finished(timeout=5.0)
        finally:
            moto_patches.uninstall()
            if self._previous_clock is not None:
                app_clock.set_clock(self._previous_clock)
            aws.reset()
            if self._mock is not None:
                self._mock.stop()
                self._mock = None
            self._restore_env()
            _active = None

    def _stop_executions(self) -> None:
        sfn = aws.client("stepfunctions")
        for arn in self.state_machines.values():
            for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn, statusFilter="RUNNING"):
                for execution in page["executions"]:
                    try:
                        sfn.stop_execution(executionArn=execution["executionArn"], cause="local runtime closed")
                    except Exception:  # one whose worker has not begun: moto cannot stop it (it ends with the mock)
                        LOG.debug("could not stop %s at close", execution["executionArn"], exc_info=True)

    def _setenv(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def _restore_env(self) -> None:
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()

    # ------------------------------------------------------------------ what is deployed
    @property
    def root(self) -> Path:
        return self.template_path.parent

    @property
    def state_machines(self) -> dict[str, str]:
        """State machine ARN by map id (``welcome-leads`` -> ``arn:...:stateMachine:automaps-welcome-leads``)."""
        return {map_id: machine.arn for map_id, machine in self._stack.state_machines.items()}

    def state_machine_arn(self, map_id: str) -> str:
        """What the map's executions start on (the deployed machine's alias, as the registry keeps
        it), or the ARN the stack's naming gives a map not deployed here."""
        machine = self._stack.state_machines.get(map_id)
        if machine is not None:
            return machine.start_arn
        prefix = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{self._stack.stack_name}-"
        return os.environ.get("STATE_MACHINE_ARN_PREFIX", prefix) + map_id

    @property
    def functions(self) -> dict[str, LocalFunction]:
        return dict(self._stack.functions)

    def routes(self) -> list[Route]:
        return self._stack.routes()

    @property
    def _stack(self) -> LocalStack:
        if self.stack is None:
            raise RuntimeError("the runtime is not started (use it as a context manager)")
        return self.stack

    # ------------------------------------------------------------------ running handlers
    def invoke(self, function: str, event: Any) -> Any:
        """Call a function's handler in-process (logical id, name or ARN); its exceptions propagate."""
        return json.loads(json.dumps(self._invoke_by_name(function, json.loads(json.dumps(event)))))

    def _invoke_by_name(self, name: str, event: Any) -> Any:
        """The invoker behind moto's Lambda: every invocation, from any thread, comes here."""
        function = self._stack.function_by_name(name)
        handler = self._handler(function)
        result, error = None, None
        try:
            result = handler(event, FakeContext.of(function))
            return result
        except BaseException as exc:
            error = exc
            raise
        finally:
            if self.outbox_reader is not None:
                self.outbox_reader.stamp()
            for listener in list(self.listeners):
                listener(function, event, result, error)

    def _handler(self, function: LocalFunction) -> Callable[..., Any]:
        found = self._modules.get(function.logical_id)
        if found is None:
            with self._import_lock:
                found = self._modules.get(function.logical_id)
                if found is None:
                    module = _import_handler_module(function)
                    found = self._modules[function.logical_id] = getattr(module, function.handler)
        return found

    def publish(self, path: Path, policy: str = "keep") -> Any:
        """`automaps publish` on this runtime: the map file ``path`` becomes a new version of its
        deployed state machine, the alias moves, and ``policy`` applies to the contacts inside
        (automaps_local.publish)."""
        from automaps.maps.loader import load_map
        from automaps_local.publish import PublishError, publish

        map_id = load_map(path).id
        machine = self._stack.state_machines.get(map_id)
        if machine is None:
            raise PublishError(f"map {map_id!r} is not deployed on this runtime (compile it and start again)")
        return publish(
            path,
            root=self.root,
            machine_arn=machine.arn,
            resolve=lambda value: str(self._stack.resolver.resolve(value)),
            template=self._stack.template,
            policy=policy,
        )

    # ------------------------------------------------------------------ executions
    def start_execution(self, map_id: str, payload: dict[str, Any], name: str) -> str:
        return aws.client("stepfunctions").start_execution(
            stateMachineArn=self.state_machine_arn(map_id), name=name, input=json.dumps(payload)
        )["executionArn"]

    def executions(self, map_id: str | None = None) -> list[dict[str, Any]]:
        """Every execution (of one map or all): status, input, output, error, virtual start time."""
        sfn, found = aws.client("stepfunctions"), []
        for machine_map, arn in self.state_machines.items():
            if map_id not in (None, machine_map):
                continue
            for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn):
                for item in page["executions"]:
                    found.append(self._describe(machine_map, item["executionArn"]))
        return found

    def _describe(self, map_id: str, arn: str) -> dict[str, Any]:
        described = aws.client("stepfunctions").describe_execution(executionArn=arn)
        history = self.history(arn)
        return {
            "map_id": map_id,
            "name": described["name"],
            "arn": arn,
            "status": described["status"],
            "input": json.loads(described.get("input") or "null"),
            "output": json.loads(described["output"]) if described.get("output") else None,
            "error": described.get("error"),
            "cause": described.get("cause"),
            "started_at": history[0]["timestamp"] if history else None,
            "stopped_at": history[-1]["timestamp"] if history and described["status"] != "RUNNING" else None,
        }

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        """The execution's history events (timestamps in virtual time)."""
        sfn, events = aws.client("stepfunctions"), []
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
            events += page["events"]
        return events

    def run_until_settled(self, until: Any = None, timeout: float = 30.0) -> bool:
        return self.clock.run_until_settled(until, timeout)

    # ------------------------------------------------------------------ what happened
    def outbox(self) -> dict[str, list[dict[str, Any]]]:
        """``{"emails": [...], "sms": [...]}`` in send order, each with the virtual time ``at``."""
        assert self.outbox_reader is not None
        return self.outbox_reader.as_dict()

    def ses_event(
        self,
        message_id: str,
        event_type: str,
        *,
        link: str | None = None,
        bounce_type: str = "Permanent",
        feedback_type: str = "abuse",
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """Play SES: publish the ``event_type`` event (Delivery, Open, Click, Bounce, Complaint,
        Send) of an email in the outbox to the default event bus, as its configuration set's
        EventBridge destination would, at ``at`` (default: now, virtual). The template's rules
        deliver it to their functions before this returns. ``link`` is the clicked URL (default:
        the email's first web link). Returns ``{"event_id", "detail-type", "detail"}``.

        LookupError for a message not in the outbox; ValueError when SES would publish no such
        event (no configuration set, or its destination does not publish that type)."""
        from automaps_local import ses_events

        message = next((m for m in self.outbox()["emails"] if m["id"] == message_id), None)
        if message is None:
            raise LookupError(f"no email {message_id!r} in the outbox")
        sent = moto_patches.ses_message(message_id) or {}
        configuration_set = sent.get("configuration_set")
        if not configuration_set:
            raise ValueError(
                f"email {message_id!r} was sent without a configuration set: SES publishes no events for it"
            )
        published = self._stack.ses_event_types.get(configuration_set, set())
        if event_type.lower() not in published:
            raise ValueError(
                f"configuration set {configuration_set!r} does not publish {event_type} events to "
                f"EventBridge (it publishes: {', '.join(sorted(published)) or 'none'})"
            )
        if event_type == "Click" and not link:
            link = observe.first_link(message.get("html") or "")
        at = at or self.clock.now()
        detail = ses_events.record(
            event_type,
            message,
            tags=sent.get("tags", {}),
            configuration_set=configuration_set,
            account=ACCOUNT,
            region=REGION,
            sent_at=_parse_time(message.get("at")),
            at=at,
            link=link,
            bounce_type=bounce_type,
            feedback_type=feedback_type,
        )
        entry = {
            "Source": "aws.ses",
            "DetailType": ses_events.DETAIL_TYPES[event_type],
            "Detail": json.dumps(detail),
            "Resources": [f"arn:aws:ses:{REGION}:{ACCOUNT}:configuration-set/{configuration_set}"],
            "Time": at,
        }
        [result] = aws.client("events").put_events(Entries=[entry])["Entries"]
        if "EventId" not in result:
            raise RuntimeError(f"EventBridge refused the event: {result}")
        return {"event_id": result["EventId"], "detail-type": entry["DetailType"], "detail": detail}

    def contact(self, email: str | None = None, contact_id: str | None = None) -> dict[str, Any] | None:
        """A contact with tags, history (virtual times), notes and enrollments; None if unknown."""
        contact_id = contact_id or (observe.contact_id_for(email) if email else None)
        return observe.contact(contact_id) if contact_id else None


def _parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _import_handler_module(function: LocalFunction) -> ModuleType:
    """``functions.<dir>.app`` through the normal import system when it resolves to the template's
    file; otherwise (a template outside the repository root, e.g. a test fixture) from the file."""
    expected = function.source.resolve()
    try:
        module = importlib.import_module(function.module)
        if Path(module.__file__ or "").resolve() == expected:
            return module
    except ModuleNotFoundError as error:
        if not expected.is_file():
            raise ModuleNotFoundError(f"{function.logical_id}: no handler file {expected}") from error
    name = f"_automaps_local_{abs(hash(str(expected))):x}.{function.module}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, expected)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"{function.logical_id}: cannot load {expected}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
