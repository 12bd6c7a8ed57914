"""`automaps doctor --stack-name S`: is a deployed stack ready to send? Each check says OK, or
what is missing and how to fix it; the exit code is 1 when anything is missing.

    automaps doctor --stack-name automaps [--region eu-west-1] [--root .]

What it checks (docs/deploy.md walks through fixing each):

- ``ses-identity``: the ``EmailFrom`` address (or its domain) is a verified SES identity, and the
  domain signs with DKIM;
- ``ses-production``: the account is out of the SES sandbox (sesv2 GetAccount), with its send rate
  (not below ``EmailSendRate``) and ``SesSandbox`` matching;
- ``configuration-set``: the stack's configuration set exists and its event destination sends
  engagement events to EventBridge;
- ``sms``: every ``from`` of the maps' texts and calls through End User Messaging is an active
  phone number, sender ID or pool (registration finished), checked only when a map sends one;
- ``bedrock``: every model the maps' ``ai_assistant`` steps name is available to the account;
- ``connection-secrets``: every secret a connection (content/connections/, pushed or not) or a
  step names exists, is readable where the functions may read (``<stack>/connections/...``) and
  holds the member its type reads;
- ``ingest-secret`` and ``signing-secret``: the stack's secrets have a value;
- ``maps``: every map of maps/ is pushed (in the registry) and its state machine is deployed;
- ``alarms``: every alarm of the stack notifies a topic with a confirmed subscriber.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SECRET_MEMBER = {"stripe": "api_key", "wordpress": "password", "smtp": "password", "facebook": "access_token"}
ENGAGEMENT_EVENTS = {"DELIVERY", "OPEN", "CLICK", "BOUNCE", "COMPLAINT"}


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    detail: str
    fix: str = ""

    def lines(self) -> list[str]:
        head = f"{'OK' if self.ok else 'MISSING':8} {self.check:19} {self.detail}"
        return [head] + ([f"{'':28} fix: {self.fix}"] if self.fix and not self.ok else [])


@dataclass
class Deployment:
    """What doctor knows of the stack: its parameters, outputs and resources, and the repository."""

    stack_name: str
    root: Path
    parameters: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    physical: dict[str, str] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)  # logical id -> resource type

    @classmethod
    def of(cls, stack_name: str, root: Path) -> Deployment:
        from automaps import aws

        cfn = aws.client("cloudformation")
        [stack] = cfn.describe_stacks(StackName=stack_name)["Stacks"]
        resources = [
            r
            for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack_name)
            for r in page["StackResourceSummaries"]
        ]
        return cls(
            stack_name=stack_name,
            root=root,
            parameters={p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])},
            outputs={o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
            physical={r["LogicalResourceId"]: r.get("PhysicalResourceId", "") for r in resources},
            types={r["LogicalResourceId"]: r.get("ResourceType", "") for r in resources},
        )

    def steps(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(map id, action, settings) of every step of the compiled maps (statemachines/)."""
        for path in sorted((self.root / "statemachines").glob("*.asl.json")):
            yield from ((path.name.removesuffix(".asl.json"), a, s) for a, s in _payloads(json.loads(path.read_text())))


def _payloads(node: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        payload = node.get("Payload")
        if isinstance(payload, dict) and isinstance(payload.get("action"), str):
            yield payload["action"], payload.get("settings") or {}
        for value in node.values():
            yield from _payloads(value)
    elif isinstance(node, list):
        for value in node:
            yield from _payloads(value)


def _code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", type(error).__name__))


def _client(service: str) -> Any:
    from automaps import aws

    return aws.client(service)


# ---------------------------------------------------------------- the checks


def check_ses_identity(d: Deployment) -> list[Finding]:
    sender = d.parameters.get("EmailFrom", "")
    domain = sender.rpartition("@")[2]
    ses = _client("sesv2")
    found: dict[str, dict[str, Any]] = {}
    for identity in dict.fromkeys([sender, domain]):
        try:
            found[identity] = ses.get_email_identity(EmailIdentity=identity)
        except ses.exceptions.NotFoundException:
            pass
    verified = [
        i for i, a in found.items() if a.get("VerifiedForSendingStatus") or a.get("VerificationStatus") == "SUCCESS"
    ]
    findings = [
        Finding("ses-identity", True, f"{sender} may send ({verified[0]} is verified)")
        if verified
        else Finding(
            "ses-identity",
            False,
            f"neither {sender} nor {domain} is a verified SES identity" + (" (pending verification)" if found else ""),
            f"aws sesv2 create-email-identity --email-identity {domain}, then publish the 3 DKIM CNAME "
            "records it answers in your DNS (or verify the address alone: the link SES mails it)",
        )
    ]
    dkim = (found.get(domain) or {}).get("DkimAttributes") or {}
    findings.append(
        Finding("ses-dkim", True, f"{domain} signs with DKIM")
        if dkim.get("Status") == "SUCCESS" and dkim.get("SigningEnabled", True)
        else Finding(
            "ses-dkim",
            False,
            f"{domain}: DKIM {str(dkim.get('Status', 'not set up')).lower().replace('_', ' ')}"
            " (mail from an unsigned domain lands in spam, and Gmail and Yahoo refuse bulk senders without it)",
            f"aws sesv2 get-email-identity --email-identity {domain}: publish its DkimAttributes.Tokens as "
            "CNAME records <token>._domainkey." + domain + " -> <token>.dkim.amazonses.com",
        )
    )
    return findings


def check_ses_production(d: Deployment) -> list[Finding]:
    account = _client("sesv2").get_account()
    rate = (account.get("SendQuota") or {}).get("MaxSendRate")
    if account.get("ProductionAccessEnabled"):
        configured = d.parameters.get("EmailSendRate")
        detail = f"out of the SES sandbox, {rate:g} emails/s" if rate is not None else "out of the SES sandbox"
        if rate is not None and configured and float(configured) > float(rate):
            return [
                Finding(
                    "ses-production",
                    False,
                    f"{detail}, but EmailSendRate is {configured}",
                    f"sam deploy --parameter-overrides EmailSendRate={rate:g}",
                )
            ]
        if d.parameters.get("SesSandbox") == "true":
            return [
                Finding(
                    "ses-production",
                    False,
                    f"{detail}, but SesSandbox is true (the send permission covers every identity)",
                    "sam deploy --parameter-overrides SesSandbox=false",
                )
            ]
        return [Finding("ses-production", True, detail)]
    review = (account.get("Details") or {}).get("ReviewDetails") or {}
    status = f" (request {str(review.get('Status')).lower()})" if review.get("Status") else ""
    if d.parameters.get("SesSandbox", "true") != "true":
        status += "; SesSandbox is false, so even sends to verified addresses are refused"
    return [
        Finding(
            "ses-production",
            False,
            "the account is in the SES sandbox: mail goes only to verified addresses" + status,
            "aws sesv2 put-account-details --production-access-enabled --mail-type MARKETING "
            "--website-url https://<your site> --use-case-description '<who signs up, how they unsubscribe>'"
            " (meanwhile, to test with verified recipients: sam deploy --parameter-overrides SesSandbox=true)",
        )
    ]


def check_configuration_set(d: Deployment) -> list[Finding]:
    name = d.physical.get("EmailConfigurationSet", "")
    ses = _client("sesv2")
    redeploy = "sam deploy (the stack creates it; do not delete it by hand)"
    try:
        ses.get_configuration_set(ConfigurationSetName=name)
    except ses.exceptions.NotFoundException:
        return [
            Finding("configuration-set", False, f"the configuration set {name or '(none)'} does not exist", redeploy)
        ]
    destinations = ses.get_configuration_set_event_destinations(ConfigurationSetName=name)["EventDestinations"]
    to_eventbridge = [e for e in destinations if e.get("Enabled") and e.get("EventBridgeDestination")]
    if not to_eventbridge:
        return [
            Finding(
                "configuration-set",
                False,
                f"{name}: no enabled EventBridge destination, so opens and clicks are never recorded",
                redeploy,
            )
        ]
    missing = ENGAGEMENT_EVENTS - {t.upper() for e in to_eventbridge for t in e.get("MatchingEventTypes", [])}
    if missing:
        return [Finding("configuration-set", False, f"{name}: events not sent: {', '.join(sorted(missing))}", redeploy)]
    return [Finding("configuration-set", True, f"{name} sends engagement events to EventBridge")]


def _end_user_messaging_sender(action: str, settings: dict[str, Any]) -> str | None:
    """The End User Messaging origination identity a step sends from (None: SNS or Amazon Connect)."""
    if action == "send_sms" and settings.get("provider") == "end_user_messaging":
        return str(settings.get("from") or "") or None
    if action == "make_phone_call" and settings.get("from"):
        script = settings.get("script") or []
        connect = settings.get("record") or any(
            step == "connect" or (isinstance(step, dict) and "connect" in step) for step in script
        )
        return None if connect else str(settings["from"])  # (with Connect, 'from' is a Connect number)
    return None


def check_sms(d: Deployment) -> list[Finding]:
    senders = sorted({sender for _, a, s in d.steps() if (sender := _end_user_messaging_sender(a, s))})
    via_sns = sorted(
        {m for m, a, s in d.steps() if a in ("send_sms", "notify_team_sms") and not _end_user_messaging_sender(a, s)}
    )
    if not senders:
        detail = "no map names a 'from' (End User Messaging identity)"
        return [Finding("sms", True, detail + (f"; {', '.join(via_sns)} text through Amazon SNS" if via_sns else ""))]
    sms = _client("pinpoint-sms-voice-v2")
    identities: dict[str, str] = {}  # id, number, ARN or sender id -> status
    for page in sms.get_paginator("describe_phone_numbers").paginate():
        for n in page["PhoneNumbers"]:
            for key in ("PhoneNumber", "PhoneNumberId", "PhoneNumberArn"):
                if n.get(key):
                    identities[n[key]] = f"{n.get('Status', '?')} {n.get('NumberType', '')}".strip()
    for page in sms.get_paginator("describe_sender_ids").paginate():
        for s in page["SenderIds"]:
            identities[s["SenderId"]] = "ACTIVE sender id"
            identities[s.get("SenderIdArn", s["SenderId"])] = "ACTIVE sender id"
    for page in sms.get_paginator("describe_pools").paginate():
        for p in page["Pools"]:
            for key in ("PoolId", "PoolArn"):
                if p.get(key):
                    identities[p[key]] = f"{p.get('Status', '?')} pool"
    findings = []
    for sender in senders:
        status = identities.get(sender)
        if status is None:
            findings.append(
                Finding(
                    "sms",
                    False,
                    f"{sender}: no such origination identity in this account and region",
                    "request one: aws pinpoint-sms-voice-v2 request-phone-number --iso-country-code US "
                    "--message-type PROMOTIONAL --number-capabilities SMS --number-type TOLL_FREE (or TEN_DLC), "
                    "then finish its registration (docs/deploy.md, 'SMS')",
                )
            )
        elif not status.startswith("ACTIVE"):
            findings.append(
                Finding(
                    "sms",
                    False,
                    f"{sender}: {status.lower()} (its registration is not finished)",
                    "aws pinpoint-sms-voice-v2 describe-registrations: complete and submit the number's registration",
                )
            )
        else:
            findings.append(Finding("sms", True, f"{sender}: {status.lower()}"))
    return findings


def _foundation_model(model_id: str) -> str:
    """The foundation model behind an id, an inference profile id (us.anthropic...) or an ARN."""
    name = model_id.rsplit("/", 1)[-1]
    first, _, rest = name.partition(".")
    return rest if first in ("us", "eu", "apac", "global", "us-gov", "ca", "jp", "au") and rest else name


def check_bedrock(d: Deployment) -> list[Finding]:
    models = sorted({str(s["model_id"]) for _, a, s in d.steps() if a == "ai_assistant" and s.get("model_id")})
    if not models:
        return [Finding("bedrock", True, "no map uses ai_assistant")]
    bedrock = _client("bedrock")
    findings = []
    for model_id in models:
        model = _foundation_model(model_id)
        try:
            availability = bedrock.get_foundation_model_availability(modelId=model)
        except (bedrock.exceptions.ResourceNotFoundException, bedrock.exceptions.ValidationException):
            findings.append(
                Finding(
                    "bedrock",
                    False,
                    f"{model_id}: no such model in this region",
                    "aws bedrock list-foundation-models --by-output-modality TEXT: pick a model offered here",
                )
            )
            continue
        wrong = {
            key: value
            for key, value in {
                "agreement": (availability.get("agreementAvailability") or {}).get("status"),
                "authorization": availability.get("authorizationStatus"),
                "entitlement": availability.get("entitlementAvailability"),
                "region": availability.get("regionAvailability"),
            }.items()
            if value not in ("AVAILABLE", "AUTHORIZED")
        }
        if wrong:
            findings.append(
                Finding(
                    "bedrock",
                    False,
                    f"{model_id}: " + ", ".join(f"{k} {str(v).lower()}" for k, v in wrong.items()),
                    "Bedrock console, 'Model access': request access to the model (accept its EULA), "
                    "or choose a model that is available in this region",
                )
            )
        else:
            findings.append(Finding("bedrock", True, f"{model_id}: available"))
    return findings


def _connections(d: Deployment) -> dict[str, dict[str, Any]]:
    """The connections of content/connections/ and those pushed to the stack (the files win)."""
    import yaml

    from automaps.store.content import ContentStore

    found = {}
    table = d.physical.get("ContentTable")
    if table:
        found.update(ContentStore(table).list("CONNECTION"))
    folder = d.root / "content" / "connections"
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        body = yaml.safe_load(path.read_text())
        if isinstance(body, dict):
            found[path.stem] = body
    return found


def _read_secret(arn: str) -> str | None:
    sm = _client("secretsmanager")
    try:
        value = sm.get_secret_value(SecretId=arn)
    except (sm.exceptions.ResourceNotFoundException, sm.exceptions.InvalidRequestException):
        return None  # (InvalidRequest: scheduled for deletion)
    return str(value.get("SecretString") or "")


def _member_missing(value: str, member: str | None) -> str | None:
    """Why ``value`` does not give what the connection reads (None: it does); as automaps.secrets.get."""
    if not value.strip():
        return "is empty"
    if member and value.lstrip().startswith("{"):
        try:
            parsed = json.loads(value)
        except ValueError:
            return "starts with '{' but is not JSON"
        if not isinstance(parsed, dict) or not isinstance(parsed.get(member), str) or not parsed[member]:
            return f"has no {member!r} member"
    return None


def check_connection_secrets(d: Deployment) -> list[Finding]:
    wanted: dict[str, tuple[str, str | None]] = {}  # arn -> (who names it, JSON member read)
    for name, body in _connections(d).items():
        if body.get("secret_arn"):
            member = body.get("secret_key") or SECRET_MEMBER.get(str(body.get("type")))
            wanted[str(body["secret_arn"])] = (f"connection {name}", member)
    for map_id, action, settings in d.steps():
        if settings.get("secret_arn"):
            wanted.setdefault(str(settings["secret_arn"]), (f"a {action} step of {map_id}", None))
    if not wanted:
        return [Finding("connection-secrets", True, "no connection or step names a secret")]
    findings = []
    prefix = f":secret:{d.stack_name}/connections/"
    for arn, (who, member) in sorted(wanted.items(), key=lambda item: item[1][0]):
        name = who.removeprefix("connection ")
        fix = f"automaps secret set {name} --stack-name {d.stack_name} < file-with-the-value"
        if prefix not in arn:
            findings.append(
                Finding(
                    "connection-secrets",
                    False,
                    f"{who}: {arn} is not named {d.stack_name}/connections/..., which the functions may not read",
                    fix + ", then put the ARN it prints in secret_arn",
                )
            )
            continue
        value = _read_secret(arn)
        problem = "does not exist" if value is None else _member_missing(value, member)
        findings.append(
            Finding("connection-secrets", False, f"{who}: the secret {problem}", fix)
            if problem
            else Finding("connection-secrets", True, f"{who}: secret set")
        )
    return findings


def check_stack_secrets(d: Deployment) -> list[Finding]:
    findings = []
    for logical_id, check, use in (
        ("IngestSecret", "ingest-secret", "the key of POST /ingest/events' Automaps-Signature"),
        ("SigningSecret", "signing-secret", "the key of unsubscribe and tracking links"),
    ):
        arn = d.physical.get(logical_id, "")
        value = _read_secret(arn) if arn else None
        fix = (
            f"aws secretsmanager restore-secret --secret-id {arn} (deleted less than 30 days ago), or store a new "
            f'key: aws secretsmanager put-secret-value --secret-id {arn} --secret-string "$(openssl rand -hex 32)"'
            if arn
            else "sam deploy (the stack creates it)"
        )
        findings.append(
            Finding(check, True, f"{logical_id} is set ({use})")
            if value
            else Finding(check, False, f"{logical_id} has no value ({use})", fix)
        )
    return findings


def check_maps(d: Deployment) -> list[Finding]:
    from automaps.store.content import ContentStore

    table = d.physical.get("ContentTable", "")
    registry = ContentStore(table).list("MAP") if table else {}
    sfn = _client("stepfunctions")
    push = f"automaps push --stack-name {d.stack_name}"
    findings = []
    for path in sorted((d.root / "maps").glob("*.yaml")):
        map_id = path.stem
        record = registry.get(map_id)
        if record is None:
            findings.append(Finding("maps", False, f"{map_id}: not pushed (not in the map registry)", push))
            continue
        arn = str(record.get("state_machine_arn", ""))
        machine = ":".join(arn.split(":")[:7])  # without a version or alias qualifier
        try:
            sfn.describe_state_machine(stateMachineArn=machine)
        except sfn.exceptions.StateMachineDoesNotExist:
            findings.append(
                Finding(
                    "maps", False, f"{map_id}: its state machine {machine} is not deployed", f"sam deploy, then {push}"
                )
            )
            continue
        findings.append(Finding("maps", True, f"{map_id}: pushed, its state machine deployed"))
    return findings or [Finding("maps", False, "no map in maps/", "add maps/<map>.yaml (docs/map-format.md)")]


def check_alarms(d: Deployment) -> list[Finding]:
    """Every alarm of the stack notifies a topic with a confirmed subscriber."""
    topic = d.outputs.get("AlertTopicArn") or d.physical.get("AlertTopic", "")
    fix = (
        f"sam deploy --parameter-overrides AlertEmail=you@example.com (and click AWS's link), or "
        f"aws sns subscribe --topic-arn {topic or '<AlertTopicArn output>'} --protocol email "
        "--notification-endpoint you@example.com"
    )
    names = sorted(
        d.physical[i] for i, kind in d.types.items() if kind == "AWS::CloudWatch::Alarm" and d.physical.get(i)
    )
    cloudwatch, sns = _client("cloudwatch"), _client("sns")
    alarms = [
        alarm
        for start in range(0, len(names), 100)
        for alarm in cloudwatch.describe_alarms(AlarmNames=names[start : start + 100])["MetricAlarms"]
    ]
    subscribers: dict[str, list[str]] = {}  # topic -> protocols of its confirmed subscriptions
    for arn in sorted({a for alarm in alarms for a in alarm.get("AlarmActions", []) if ":sns:" in a} | {topic} - {""}):
        subscribers[arn] = [
            str(s.get("Protocol"))
            for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=arn)
            for s in page["Subscriptions"]
            if s.get("SubscriptionArn", "").startswith("arn:")
        ]
    silent = [
        alarm["AlarmName"] for alarm in alarms if not any(subscribers.get(a) for a in alarm.get("AlarmActions", []))
    ]
    if not alarms:
        if subscribers.get(topic):
            return [Finding("alarms", True, f"{len(subscribers[topic])} subscriber(s) to the alerts")]
        return [Finding("alarms", False, "the stack has no alarm with a subscriber", fix)]
    if silent:
        pending = "" if not topic or subscribers.get(topic) else " (the alert topic has no confirmed subscriber)"
        return [
            Finding(
                "alarms",
                False,
                f"{len(silent)} of {len(alarms)} alarms notify nobody{pending}: {', '.join(silent)}",
                fix,
            )
        ]
    ends = ", ".join(sorted({p for protocols in subscribers.values() for p in protocols}))
    return [Finding("alarms", True, f"all {len(alarms)} alarms notify a confirmed subscriber ({ends})")]


CHECKS: tuple[Callable[[Deployment], list[Finding]], ...] = (
    check_ses_identity,
    check_ses_production,
    check_configuration_set,
    check_sms,
    check_bedrock,
    check_connection_secrets,
    check_stack_secrets,
    check_maps,
    check_alarms,
)


def diagnose(d: Deployment) -> list[Finding]:
    """Every check's findings; a check that cannot ask AWS is a finding too (with the error code)."""
    from botocore.exceptions import BotoCoreError, ClientError

    findings: list[Finding] = []
    for check in CHECKS:
        name = check.__name__.removeprefix("check_").replace("_", "-")
        try:
            findings.extend(check(d))
        except (ClientError, BotoCoreError) as error:
            findings.append(
                Finding(name, False, f"could not check: {_code(error)}", "run doctor with credentials that may read it")
            )
        except Exception as error:  # noqa: BLE001 (a check that breaks must not hide the others)
            findings.append(Finding(name, False, f"could not check: {type(error).__name__}: {error}"))
    return findings


# ---------------------------------------------------------------- the command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack-name", default="automaps", help="the deployed CloudFormation stack")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))
    parser.add_argument("--root", default=".", type=Path, help="the repository (maps/, statemachines/, content/)")


def run(args: argparse.Namespace) -> int:
    if args.region:
        os.environ["AWS_REGION"] = args.region
    findings = diagnose(Deployment.of(args.stack_name, args.root))
    for finding in findings:
        print("\n".join(finding.lines()))
    missing = sum(not f.ok for f in findings)
    print(f"{args.stack_name}: " + (f"{missing} missing" if missing else "ready to send"))
    return 1 if missing else 0
