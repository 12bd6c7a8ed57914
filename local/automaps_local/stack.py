"""Stand up what template.yaml declares inside moto.

``LocalStack(template).create_data()`` creates the tables, secrets and queues and fills the
environment the functions read (their Globals and own Environment, resolved).
``create_functions()`` registers every ``AWS::Serverless::Function`` in moto's Lambda (the code
runs in-process, see ``LocalFunction``), ``create_state_machines()`` every
``AWS::Serverless::StateMachine`` with its ``DefinitionUri`` file and resolved
``DefinitionSubstitutions``, and ``routes()`` lists the API events for the HTTP front.
``create_data()`` also creates the SES configuration sets (and notes which event types each
publishes to EventBridge, ``ses_event_types``); ``create_event_rules()`` puts every function's
``EventBridgeRule`` event on the default bus with the function as target (moto_patches delivers
to it in-process). ``sqs_event_sources()`` lists the ``Type: SQS`` events, which
``automaps_local.sqs_events`` delivers in-process as Lambda's SQS poller would;
``dynamodb_event_sources()`` the ``Type: DynamoDB`` events (``automaps_local.stream_events``).
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automaps import aws
from automaps_local.template import Resolver, Template, TemplateError
from automaps_local.wiring import ALIAS, logical_id, substitutions

LOG = logging.getLogger(__name__)

REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK = "automaps"

_UNRESOLVED = re.compile(r"\$\{([A-Za-z0-9_.:]+)\}")
_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "{service}"}}],
}


@dataclass(frozen=True)
class LocalFunction:
    """A template function as the runtime runs it: in-process, from its source folder."""

    logical_id: str
    name: str  # physical name in moto's Lambda
    arn: str
    code_dir: Path  # e.g. <root>/functions/send_email
    module: str  # e.g. functions.send_email.app
    handler: str  # e.g. lambda_handler
    timeout: int
    memory: int

    @property
    def source(self) -> Path:
        return self.code_dir / (self.module.rsplit(".", 1)[-1] + ".py")


@dataclass(frozen=True)
class LocalStateMachine:
    logical_id: str
    name: str  # physical name, e.g. automaps-welcome-leads
    map_id: str  # the name without the stack prefix, e.g. welcome-leads
    arn: str
    definition: str
    alias_arn: str | None = None  # AutoPublishAlias: the alias executions start on (pinned to a version)

    @property
    def start_arn(self) -> str:
        """What executions start on: the alias when there is one (as on AWS), else the machine."""
        return self.alias_arn or self.arn


@dataclass(frozen=True)
class Route:
    """An ``Api`` event of a function: ``/forms/{form_id}`` POST -> PublicApiFunction."""

    path: str
    method: str  # upper case; ANY matches every method
    function: str  # logical id
    event: str  # the event's name in the template

    def pattern(self) -> re.Pattern[str]:
        """``/forms/{form_id}`` -> ``^/forms/(?P<form_id>[^/]+)$`` (``{proxy+}`` spans slashes)."""
        parts = re.split(r"\{(\w+)(\+?)\}", self.path)
        regex = re.escape(parts[0])
        for name, greedy, literal in zip(parts[1::3], parts[2::3], parts[3::3]):
            regex += f"(?P<{name}>{'.+' if greedy else '[^/]+'})" + re.escape(literal)
        return re.compile(f"^{regex}$")


@dataclass(frozen=True)
class SqsEventSource:
    """A ``Type: SQS`` event of a function: Lambda polls ``queue_url`` and invokes ``function``."""

    function: str  # logical id
    event: str  # the event's name in the template
    queue_url: str
    queue_name: str
    batch_size: int = 10
    report_failures: bool = False  # FunctionResponseTypes: [ReportBatchItemFailures]
    enabled: bool = True


@dataclass(frozen=True)
class DynamoDBEventSource:
    """A ``Type: DynamoDB`` event of a function: Lambda reads ``table``'s stream and invokes ``function``."""

    function: str  # logical id
    event: str  # the event's name in the template
    table: str  # physical table name
    stream_arn: str
    function_arn: str
    batch_size: int = 100
    filters: tuple[dict[str, Any], ...] = ()  # FilterCriteria patterns, parsed; none: every record
    report_failures: bool = False  # FunctionResponseTypes: [ReportBatchItemFailures]
    bisect: bool = False  # BisectBatchOnFunctionError
    maximum_retry_attempts: int = -1  # -1: until the record expires
    maximum_record_age: int = -1  # seconds; -1: the stream's retention (24 h)
    on_failure: str | None = None  # the OnFailure SQS queue's URL
    enabled: bool = True


_QUEUE_ATTRIBUTES = (
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "DelaySeconds",
    "MaximumMessageSize",
    "ReceiveMessageWaitTimeSeconds",
    "SqsManagedSseEnabled",
)
_TABLE_KEYS = (
    "AttributeDefinitions",
    "KeySchema",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "StreamSpecification",
)


@dataclass
class LocalStack:
    template: Template
    stack_name: str = STACK
    parameters: dict[str, Any] = field(default_factory=dict)
    physical: dict[str, str] = field(default_factory=dict)
    functions: dict[str, LocalFunction] = field(default_factory=dict)  # by logical id
    state_machines: dict[str, LocalStateMachine] = field(default_factory=dict)  # by map id
    skipped_state_machines: dict[str, str] = field(default_factory=dict)  # logical id -> why
    ses_event_types: dict[str, set[str]] = field(default_factory=dict)  # configuration set -> event types
    event_rules: dict[str, str] = field(default_factory=dict)  # rule name -> function logical id

    def __post_init__(self) -> None:
        refs = {**self.template.parameter_defaults(), **self.parameters}
        self.resolver = Resolver(
            pseudo={
                "AWS::Region": REGION,
                "AWS::AccountId": ACCOUNT,
                "AWS::StackName": self.stack_name,
                "AWS::Partition": "aws",
                "AWS::URLSuffix": "amazonaws.com",
            },
            refs=refs,
        )

    # ------------------------------------------------------------------ data resources
    def create_data(self) -> None:
        for logical, resource in self.template.of_type("AWS::DynamoDB::Table").items():
            self._create_table(logical, resource.get("Properties", {}))
        for logical, resource in self.template.of_type("AWS::SecretsManager::Secret").items():
            self._create_secret(logical, resource.get("Properties", {}))
        queues = self.template.of_type("AWS::SQS::Queue")
        for logical in sorted(queues, key=lambda q: "RedrivePolicy" in queues[q].get("Properties", {})):
            self._create_queue(logical, queues[logical].get("Properties", {}))  # dead-letter queues first
        self._create_ses_configuration_sets()
        for logical, resource in self.template.of_type("AWS::Scheduler::ScheduleGroup").items():
            name = str(
                self.resolver.resolve(resource.get("Properties", {}).get("Name", f"{self.stack_name}-{logical}"))
            )
            aws.client("scheduler").create_schedule_group(Name=name)
            self.resolver.refs[logical] = name
        for logical in self.template.of_type("AWS::IAM::Role"):
            self.resolver.attributes[(logical, "Arn")] = self._role(f"{logical}.amazonaws.com")

    def _create_queue(self, logical: str, props: dict[str, Any]) -> None:
        """A queue with the attributes SQS takes at creation (visibility timeout, retention,
        redrive policy to its dead-letter queue, ...)."""
        name = f"{self.stack_name}-{logical}"
        attributes = {key: _attribute(self.resolver.resolve(props[key])) for key in _QUEUE_ATTRIBUTES if key in props}
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(self.resolver.resolve(props["RedrivePolicy"]))
        url = aws.client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        self.resolver.refs[logical] = url
        self.resolver.attributes[(logical, "Arn")] = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
        self.resolver.attributes[(logical, "QueueName")] = name
        self.resolver.attributes[(logical, "QueueUrl")] = url

    def _create_ses_configuration_sets(self) -> None:
        """Each configuration set, and the event types its EventBridge destinations publish
        (``MatchingEventTypes``, as SES's lower-case names: ``open``, ``bounce``, ...)."""
        for logical, resource in self.template.of_type("AWS::SES::ConfigurationSet").items():
            name = str(
                self.resolver.resolve(resource.get("Properties", {}).get("Name", f"{self.stack_name}-{logical}"))
            )
            aws.client("sesv2").create_configuration_set(ConfigurationSetName=name)
            self.resolver.refs[logical] = name
            self.ses_event_types[name] = set()
        for resource in self.template.of_type("AWS::SES::ConfigurationSetEventDestination").values():
            props = resource.get("Properties", {})
            destination = props.get("EventDestination", {})
            if "EventBridgeDestination" in destination and destination.get("Enabled", False):
                name = str(self.resolver.resolve(props["ConfigurationSetName"]))
                self.ses_event_types.setdefault(name, set()).update(destination.get("MatchingEventTypes", []))

    def _create_table(self, logical: str, props: dict[str, Any]) -> None:
        name = f"{self.stack_name}-{logical}"
        spec = {k: props[k] for k in _TABLE_KEYS if k in props}
        if "StreamSpecification" in spec:  # CloudFormation names only the view type; the API wants both
            spec["StreamSpecification"] = {"StreamEnabled": True, **spec["StreamSpecification"]}
        table = aws.client("dynamodb").create_table(TableName=name, BillingMode="PAY_PER_REQUEST", **spec)
        self.resolver.refs[logical] = name
        self.resolver.attributes[(logical, "Arn")] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
        if "LatestStreamArn" in table["TableDescription"]:
            self.resolver.attributes[(logical, "StreamArn")] = table["TableDescription"]["LatestStreamArn"]

    def _create_secret(self, logical: str, props: dict[str, Any]) -> None:
        length = props.get("GenerateSecretString", {}).get("PasswordLength", 64)
        value = aws.client("secretsmanager").get_random_password(PasswordLength=length, ExcludePunctuation=True)[
            "RandomPassword"
        ]
        arn = aws.client("secretsmanager").create_secret(Name=f"{self.stack_name}-{logical}", SecretString=value)["ARN"]
        self.resolver.refs[logical] = arn

    # ------------------------------------------------------------------ roles
    def _role(self, service: str) -> str:
        name = f"{self.stack_name}-local-{service.split('.')[0]}"
        iam = aws.client("iam")
        try:
            return iam.get_role(RoleName=name)["Role"]["Arn"]
        except iam.exceptions.NoSuchEntityException:
            trust = json.dumps(_TRUST).replace("{service}", service)
            return iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]

    # ------------------------------------------------------------------ functions
    def create_functions(self) -> dict[str, LocalFunction]:
        """Register every function in moto's Lambda (a dummy zip: the code runs in-process)."""
        role = self._role("lambda.amazonaws.com")
        for logical in self.template.of_type("AWS::Serverless::Function"):
            self.functions[logical] = self._create_function(logical, role)
        return self.functions

    def _create_function(self, logical: str, role: str) -> LocalFunction:
        props = self.template.function_properties(logical)
        code_uri = str(props.get("CodeUri", "")).strip("/")
        module_file, handler = props.get("Handler", "app.lambda_handler").rsplit(".", 1)
        name = f"{self.stack_name}-{logical}"
        arn = aws.client("lambda").create_function(
            FunctionName=name,
            Runtime=props.get("Runtime", "python3.13"),
            Role=role,
            Handler=props.get("Handler", "app.lambda_handler"),
            Code={"ZipFile": _dummy_zip()},
            Timeout=int(props.get("Timeout", 3)),
            MemorySize=int(props.get("MemorySize", 128)),
            Architectures=props.get("Architectures", ["x86_64"]),
        )["FunctionArn"]
        self.resolver.refs[logical] = name
        self.resolver.attributes[(logical, "Arn")] = arn
        if props.get("AutoPublishAlias"):  # locally the function itself: its code runs in-process, unversioned
            self.resolver.refs[f"{logical}.Alias"] = arn
        return LocalFunction(
            logical_id=logical,
            name=name,
            arn=arn,
            code_dir=self.template.root / code_uri,
            module=".".join([*Path(code_uri).parts, *module_file.split(".")]),
            handler=handler,
            timeout=int(props.get("Timeout", 3)),
            memory=int(props.get("MemorySize", 128)),
        )

    def function_by_name(self, name_or_arn: str) -> LocalFunction:
        for function in self.functions.values():
            if name_or_arn in (function.name, function.arn, function.logical_id):
                return function
        raise KeyError(f"no function {name_or_arn} in {self.template.path}")

    # ------------------------------------------------------------------ state machines
    def create_state_machines(self, missing: str = "error") -> dict[str, LocalStateMachine]:
        """Create every state machine from its DefinitionUri with substitutions resolved.

        ``missing="skip"`` logs and skips a machine whose definition file does not exist yet
        (``automaps serve`` while maps are still being compiled); ``"error"`` raises.
        """
        for logical, resource in self.template.of_type("AWS::Serverless::StateMachine").items():
            try:
                machine = self._create_state_machine(logical, resource.get("Properties", {}))
            except FileNotFoundError as error:
                if missing != "skip":
                    raise TemplateError(f"{logical}: {error}") from None
                self.skipped_state_machines[logical] = str(error)
                LOG.warning("%s skipped: %s", logical, error)
                continue
            self.state_machines[machine.map_id] = machine
        return self.state_machines

    def _create_state_machine(self, logical: str, props: dict[str, Any]) -> LocalStateMachine:
        if "DefinitionUri" not in props:
            raise TemplateError(f"{logical}: only DefinitionUri state machines are supported locally")
        path = self.template.root / str(props["DefinitionUri"])
        if not path.is_file():
            raise FileNotFoundError(f"definition file {path} does not exist")
        definition = self.substitute(path.read_text(), props.get("DefinitionSubstitutions", {}), logical)
        name = str(self.resolver.resolve(props.get("Name", f"{self.stack_name}-{logical}")))
        machine = self._create_machine(logical, name, definition, props.get("AutoPublishAlias"), props.get("Type"))
        self.resolver.refs[logical] = machine.arn
        self.resolver.attributes[(logical, "Name")] = name
        if machine.alias_arn:
            self.resolver.refs[f"{logical}.Alias"] = machine.alias_arn
        return machine

    def _create_machine(
        self, logical: str, name: str, definition: str, alias: str | None, kind: str | None = None
    ) -> LocalStateMachine:
        """CreateStateMachine; with an AutoPublishAlias, published as version 1 with the alias on it
        (as SAM's StateMachineVersion and StateMachineAlias resources do)."""
        sfn = aws.client("stepfunctions")
        created = sfn.create_state_machine(
            name=name,
            definition=definition,
            roleArn=self._role("states.amazonaws.com"),
            type=kind or "STANDARD",
            publish=bool(alias),
        )
        alias_arn = None
        if alias:
            routing = [{"stateMachineVersionArn": created["stateMachineVersionArn"], "weight": 100}]
            alias_arn = sfn.create_state_machine_alias(name=alias, routingConfiguration=routing)["stateMachineAliasArn"]
        map_id = name.removeprefix(f"{self.stack_name}-")
        return LocalStateMachine(
            logical_id=logical,
            name=name,
            map_id=map_id,
            arn=created["stateMachineArn"],
            definition=definition,
            alias_arn=alias_arn,
        )

    def deploy_map(self, path: Path) -> LocalStateMachine:
        """Compile a map that template.yaml does not deploy (a test or draft map) and create its
        state machine as `automaps compile` + `sam deploy` would: named ``<stack>-<map id>``, the
        substitutions its definition uses (automaps_local.wiring), published with the alias."""
        from automaps.maps.compiler import compile_map, to_json
        from automaps.maps.loader import load_map

        map_ = load_map(path)
        logical = logical_id(map_.id)
        compiled = to_json(compile_map(map_))
        definition = self.substitute(compiled, substitutions(self.template, compiled, str(path)), logical)
        machine = self._create_machine(logical, f"{self.stack_name}-{map_.id}", definition, ALIAS)
        self.state_machines[map_.id] = machine
        if self.resolver.refs.get("ContentTable"):  # registered, as `automaps push` would
            from automaps.journeys.enrollment import register
            from automaps_local.push import map_record

            register(map_record(map_, machine.start_arn, map_.content_hash()))
        return machine

    def substitute(self, definition: str, substitutions: dict[str, Any], logical: str = "") -> str:
        """``${Key}`` -> value, as SAM's DefinitionSubstitutions do; a leftover ``${...}`` is an error."""
        values = {key: str(self.resolver.resolve(value)) for key, value in substitutions.items()}
        text = _UNRESOLVED.sub(lambda m: values.get(m.group(1), m.group(0)), definition)
        leftover = sorted(set(_UNRESOLVED.findall(text)))
        if leftover:
            raise TemplateError(
                f"{logical}: definition uses {', '.join(leftover)} but DefinitionSubstitutions does not define it"
            )
        return text

    # ------------------------------------------------------------------ EventBridge rules
    def create_event_rules(self) -> dict[str, str]:
        """Every ``Type: EventBridgeRule`` event of a function, as a rule on the default bus with
        the function as its target (after ``create_functions``)."""
        events = aws.client("events")
        for logical, resource in self.template.of_type("AWS::Serverless::Function").items():
            for event_name, event in (resource.get("Properties", {}).get("Events") or {}).items():
                if event.get("Type") != "EventBridgeRule":
                    continue
                props = event.get("Properties", {})
                if props.get("EventBusName") not in (None, "default"):
                    raise TemplateError(
                        f"{logical}.{event_name}: only rules on the default event bus are supported locally"
                    )
                rule = f"{self.stack_name}-{logical}-{event_name}"[:64]
                events.put_rule(
                    Name=rule,
                    EventPattern=json.dumps(self.resolver.resolve(props["Pattern"])),
                    State="ENABLED" if props.get("State", "ENABLED") == "ENABLED" else "DISABLED",
                )
                events.put_targets(Rule=rule, Targets=[{"Id": logical[:64], "Arn": self.functions[logical].arn}])
                self.event_rules[rule] = logical
        return self.event_rules

    def create_schedule_events(self) -> list[str]:
        """Every ``Type: ScheduleV2`` event of a function, as an EventBridge Scheduler schedule (in
        the default group) whose target is the function: what SAM makes of it. Returns the names.
        After ``create_functions``; the runtime's schedule firing delivers them on the clock."""
        scheduler, names = aws.client("scheduler"), []
        for logical, resource in self.template.of_type("AWS::Serverless::Function").items():
            for event_name, event in (resource.get("Properties", {}).get("Events") or {}).items():
                if event.get("Type") != "ScheduleV2":
                    continue
                props = self.resolver.resolve(event.get("Properties", {}))
                name = str(props.get("Name") or f"{self.stack_name}-{logical}-{event_name}")[:64]
                extra = (
                    {"ScheduleExpressionTimezone": props["ScheduleExpressionTimezone"]}
                    if props.get("ScheduleExpressionTimezone")
                    else {}
                )
                scheduler.create_schedule(
                    Name=name,
                    ScheduleExpression=str(props["ScheduleExpression"]),
                    FlexibleTimeWindow=props.get("FlexibleTimeWindow") or {"Mode": "OFF"},
                    State=str(props.get("State") or "ENABLED"),
                    Target={
                        "Arn": self.functions[logical].arn,
                        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/{name}-role",
                        "Input": str(props.get("Input") or "{}"),
                    },
                    **extra,
                )
                names.append(name)
        return names

    # ------------------------------------------------------------------ SQS event sources
    def sqs_event_sources(self) -> list[SqsEventSource]:
        """The ``Type: SQS`` events of every function (after ``create_data``), in template order."""
        by_arn = {
            arn: (logical, name)
            for (logical, attr), arn in self.resolver.attributes.items()
            if attr == "Arn"
            for name in [self.resolver.attributes.get((logical, "QueueName"))]
            if name
        }
        found = []
        for logical, resource in self.template.of_type("AWS::Serverless::Function").items():
            for event_name, event in (resource.get("Properties", {}).get("Events") or {}).items():
                if event.get("Type") != "SQS":
                    continue
                props = event.get("Properties", {})
                arn = str(self.resolver.resolve(props["Queue"]))
                if arn not in by_arn:
                    raise TemplateError(f"{logical}.{event_name}: queue {arn} is not a queue of this template")
                queue = by_arn[arn][0]
                found.append(
                    SqsEventSource(
                        function=logical,
                        event=event_name,
                        queue_url=str(self.resolver.refs[queue]),
                        queue_name=str(self.resolver.attributes[(queue, "QueueName")]),
                        batch_size=int(props.get("BatchSize", 10)),
                        report_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
                        enabled=bool(props.get("Enabled", True)),
                    )
                )
        return found

    # ------------------------------------------------------------------ DynamoDB stream event sources
    def dynamodb_event_sources(self) -> list[DynamoDBEventSource]:
        """The ``Type: DynamoDB`` events of every function (after ``create_data``), in template order."""
        tables = {arn: logical for (logical, attr), arn in self.resolver.attributes.items() if attr == "StreamArn"}
        queues = {arn: logical for (logical, attr), arn in self.resolver.attributes.items() if attr == "Arn"}
        found = []
        for logical, resource in self.template.of_type("AWS::Serverless::Function").items():
            for event_name, event in (resource.get("Properties", {}).get("Events") or {}).items():
                if event.get("Type") != "DynamoDB":
                    continue
                props, where = event.get("Properties", {}), f"{logical}.{event_name}"
                arn = str(self.resolver.resolve(props["Stream"]))
                if arn not in tables:
                    raise TemplateError(f"{where}: stream {arn} is not the stream of a table of this template")
                on_failure = None
                destination = (props.get("DestinationConfig") or {}).get("OnFailure")
                if destination:
                    queue_arn = str(self.resolver.resolve(destination["Destination"]))
                    if destination.get("Type", "SQS") != "SQS" or ":sqs:" not in queue_arn or queue_arn not in queues:
                        raise TemplateError(f"{where}: only an SQS queue of this template is supported as OnFailure")
                    on_failure = str(self.resolver.refs[queues[queue_arn]])
                filters = []
                for index, entry in enumerate((props.get("FilterCriteria") or {}).get("Filters") or []):
                    try:
                        filters.append(json.loads(str(self.resolver.resolve(entry["Pattern"]))))
                    except (KeyError, ValueError) as error:
                        raise TemplateError(f"{where}: FilterCriteria.Filters[{index}].Pattern: {error}") from None
                found.append(
                    DynamoDBEventSource(
                        function=logical,
                        event=event_name,
                        table=str(self.resolver.refs[tables[arn]]),
                        stream_arn=arn,
                        function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.stack_name}-{logical}",
                        batch_size=int(props.get("BatchSize", 100)),
                        filters=tuple(filters),
                        report_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
                        bisect=bool(props.get("BisectBatchOnFunctionError", False)),
                        maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
                        maximum_record_age=int(props.get("MaximumRecordAgeInSeconds", -1)),
                        on_failure=on_failure,
                        enabled=bool(props.get("Enabled", True)),
                    )
                )
        return found

    # ------------------------------------------------------------------ API routes
    def routes(self) -> list[Route]:
        """The ``Type: Api`` events of every function, in template order."""
        found = []
        for logical, resource in self.template.of_type("AWS::Serverless::Function").items():
            for event_name, event in (resource.get("Properties", {}).get("Events") or {}).items():
                if event.get("Type") == "Api":
                    props = event.get("Properties", {})
                    found.append(
                        Route(
                            path=props["Path"], method=str(props["Method"]).upper(), function=logical, event=event_name
                        )
                    )
        return found

    # ------------------------------------------------------------------ environment
    def function_environment(self, logical: str) -> dict[str, str]:
        props = self.template.function_properties(logical)
        variables = props.get("Environment", {}).get("Variables", {})
        return {k: str(self.resolver.resolve(v)) for k, v in variables.items()}

    def export_environment(self) -> dict[str, str]:
        """Set, in os.environ, the union of every function's environment.

        The handlers run in one process, so their variables must agree; a conflict is an error.
        """
        merged: dict[str, str] = {}
        for logical in self.template.of_type("AWS::Serverless::Function"):
            for key, value in self.function_environment(logical).items():
                if merged.setdefault(key, value) != value:
                    raise RuntimeError(f"template.yaml: functions disagree on {key} ({merged[key]} vs {value})")
        os.environ.update(merged)
        return merged


def _attribute(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _dummy_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "# runs in-process from the repository; see automaps_local.runtime\n")
    return buffer.getvalue()
