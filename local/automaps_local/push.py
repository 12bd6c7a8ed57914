"""`automaps push`: upload what is data, not code, into a deployed stack's content table.

Email templates (content/templates/*.yaml), forms (content/forms/*.yaml), segments
(content/segments/*.yaml) and the map registry
(which trigger starts which state machine, with which entry rule) change without a redeploy.
Everything is validated before anything is written, so a broken file changes nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from automaps.intake.forms import FormDefinition
from automaps.journeys.enrollment import EntryRule, MapRecord, Trigger, register
from automaps.store.content import ContentStore


class ContentError(ValueError):
    pass


def _yaml_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.yaml")) if folder.is_dir() else []


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ContentError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ContentError(f"{path}: expected a mapping of keys to values")
    return data


# content/<folder>/*.yaml -> (item kind, "module:callable" that validates a body and returns a model)
CONTENT_KINDS: dict[str, tuple[str, str]] = {
    "connections": ("CONNECTION", "automaps.store.connections:validate"),
    "routers": ("ROUTER", "automaps.store.routing:validate"),
}


def load_named(root: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """Every other content folder: kind -> name (the file's stem) -> validated body."""
    import importlib

    found: dict[str, dict[str, dict[str, Any]]] = {}
    for folder, (kind, validator_path) in CONTENT_KINDS.items():
        module_name, attribute = validator_path.split(":")
        validator = getattr(importlib.import_module(module_name), attribute)
        for path in _yaml_files(root / "content" / folder):
            try:
                model = validator(_read(path))
            except (ValueError, LookupError) as exc:
                raise ContentError(f"{path}: {exc}") from None
            found.setdefault(kind, {})[path.stem] = model.model_dump(mode="json")
    return found


def load_templates(root: Path) -> dict[str, dict[str, Any]]:
    from automaps.rendering import EmailTemplate

    found = {}
    for path in _yaml_files(root / "content" / "templates"):
        try:
            found[path.stem] = EmailTemplate.model_validate(_read(path)).model_dump(mode="json")
        except ValueError as exc:
            raise ContentError(f"{path}: {exc}") from None
    return found


def load_forms(root: Path) -> dict[str, dict[str, Any]]:
    found = {}
    for path in _yaml_files(root / "content" / "forms"):
        try:
            form = FormDefinition.model_validate(_read(path))
        except ValueError as exc:
            raise ContentError(f"{path}: {exc}") from None
        if form.id != path.stem:
            raise ContentError(f"{path}: id {form.id!r} differs from the file name; rename one")
        found[form.id] = form.model_dump(mode="json")
    return found


def load_segments(root: Path) -> dict[str, dict[str, Any]]:
    """content/segments/*.yaml, each validated (its condition as in maps); the id is the file's name."""
    from pydantic import ValidationError

    from automaps.store.segments import validate

    found = {}
    for path in _yaml_files(root / "content" / "segments"):
        try:
            segment = validate(_read(path))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'segment'}: {e['msg'].removeprefix('Value error, ')}"
                for e in exc.errors()
            )
            raise ContentError(f"{path}: {problems}") from None
        if segment.id != path.stem:
            raise ContentError(f"{path}: id {segment.id!r} differs from the file name; rename one")
        found[segment.id] = segment.body()
    return found


def map_records(root: Path, arn_for: Callable[[str], str]) -> list[MapRecord]:
    from automaps.maps.loader import load_maps

    records = []
    for m in load_maps(root / "maps"):
        definition = (root / "statemachines" / f"{m.id}.asl.json").read_bytes()
        record = map_record(m, arn_for(m.id), hashlib.sha256(definition).hexdigest()[:16])
        records.append(record.model_copy(update={"versions": deployed_versions(record.state_machine_arn)}))
    return records


def deployed_versions(start_arn: str) -> dict[str, str]:
    """``{map version: state machine version ARN}`` of what the alias ``start_arn`` runs now, read
    from the deployed version's definition (it records its map version): so a contact resumed on
    that map version later runs on that state machine version, whatever is published after it.
    Empty for a machine without an alias, or one that cannot be read (nothing deployed yet)."""
    from botocore.exceptions import ClientError

    from automaps import aws
    from automaps.maps.compiler import version_of

    if len(start_arn.split(":")) != 8:
        return {}
    sfn = aws.client("stepfunctions")
    try:
        routes = sfn.describe_state_machine_alias(stateMachineAliasArn=start_arn)["routingConfiguration"]
        version_arn = max(routes, key=lambda r: r["weight"])["stateMachineVersionArn"]
        map_version = version_of(sfn.describe_state_machine(stateMachineArn=version_arn)["definition"])
    except ClientError:
        return {}
    return {map_version: version_arn} if map_version else {}


def map_record(m: Any, state_machine_arn: str, version: str) -> MapRecord:
    """What the registry keeps of map ``m`` (automaps.maps.model.Map) deployed as ``state_machine_arn``."""
    from automaps.maps.compiler import journey_facts

    return MapRecord(
        id=m.id,
        state_machine_arn=state_machine_arn,
        version=version,
        triggers=[Trigger(type=t.kind, key=t.key, spec=t.spec(), only_if=t.only_if_spec()) for t in m.entered_by()],
        **journey_facts(m),
        entry=EntryRule(
            reenter=m.entry.reenter,
            min_interval_seconds=m.entry.min_interval.total_seconds if m.entry.min_interval else 0,
        ),
        source=m.model_dump(mode="json", by_alias=True),
    )


def push_all(root: Path, arn_for: Callable[[str], str], records: list[MapRecord] | None = None) -> dict[str, int]:
    """Validate everything first, then write. Returns counts by kind. ``records``: register only
    these maps (automaps publish: the one map it publishes) instead of every map of maps/."""
    templates, forms = load_templates(root), load_forms(root)
    maps = records if records is not None else map_records(root, arn_for)
    named = load_named(root)
    segments = load_segments(root)
    _check_references(forms, maps, templates, root)
    store = ContentStore()
    for kind, items in named.items():
        for name, body in items.items():
            store.put(kind, name, body)
    for name, body in templates.items():
        store.put("TEMPLATE", name, body)
    for form_id, body in forms.items():
        store.put("FORM", form_id, body)
    for segment_id, body in segments.items():
        store.put("SEGMENT", segment_id, body)
    for record in maps:
        register(record)
    from automaps.journeys import segments as upkeep

    upkeep.forget()
    if segments and os.environ.get("ENROLL_QUEUE_URL"):  # (else the stack's hourly sweep starts them)
        upkeep.start_fills(sorted(segments))
    return {
        "templates": len(templates),
        "forms": len(forms),
        "maps": len(maps),
        "segments": len(segments),
        **{kind.lower(): len(items) for kind, items in named.items()},
    }


def _check_references(forms: dict, maps: list[MapRecord], templates: dict, root: Path) -> None:
    for record in maps:
        for trigger in record.triggers:
            if trigger.type == "form_submitted" and trigger.key not in forms:
                raise ContentError(
                    f"maps/{record.id}.yaml: trigger form {trigger.key!r} has no content/forms/{trigger.key}.yaml"
                )
    for path in sorted((root / "statemachines").glob("*.asl.json")):
        for name in _templates_used(json.loads(path.read_text())):
            if name not in templates:
                raise ContentError(f"{path.name}: email template {name!r} has no content/templates/{name}.yaml")


def _templates_used(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        payload = node.get("Payload") if isinstance(node.get("Payload"), dict) else None
        if payload and payload.get("action") == "send_email" and payload["settings"].get("template"):
            found.add(payload["settings"]["template"])
        for value in node.values():
            found |= _templates_used(value)
    elif isinstance(node, list):
        for value in node:
            found |= _templates_used(value)
    return found


# ---------------------------------------------------------------- the command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack-name", default="automaps", help="the deployed CloudFormation stack")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))
    parser.add_argument("--root", default=".", type=Path)


def use_starts_scheduler(cfn: Any, stack_name: str) -> None:
    """Where registering a map writes its schedules (automaps.journeys.schedules.sync): the stack's
    starts schedule group, scheduler role and EnrollQueue, from its outputs. A stack deployed
    before it had them keeps none: its maps' schedule and date triggers then start nothing."""
    [stack] = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    for variable, output in (
        ("STARTS_SCHEDULE_GROUP", "StartsScheduleGroupName"),
        ("SCHEDULER_ROLE_ARN", "SchedulerRoleArn"),
        ("ENROLL_QUEUE_ARN", "EnrollQueueArn"),
    ):
        if outputs.get(output):
            os.environ[variable] = outputs[output]
    queue = outputs.get("EnrollQueueArn", "").split(":")
    if len(queue) == 6:  # arn:aws:sqs:<region>:<account>:<name>: where a new segment's fill is queued
        os.environ["ENROLL_QUEUE_URL"] = f"https://sqs.{queue[3]}.amazonaws.com/{queue[4]}/{queue[5]}"


def run(args: argparse.Namespace) -> int:
    import boto3

    from automaps_local.template import Template
    from automaps_local.wiring import ALIAS, machines_by_map

    cfn = boto3.client("cloudformation", region_name=args.region)
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=args.stack_name)
        for r in page["StackResourceSummaries"]
    }
    os.environ["CONTENT_TABLE"] = physical["ContentTable"]
    os.environ["CONTACTS_TABLE"] = physical["ContactsTable"]  # a pushed segment's fill scans the contacts
    use_starts_scheduler(cfn, args.stack_name)
    machines = machines_by_map(Template.load(args.root / "template.yaml"))
    try:
        # executions start on the machine's alias (SAM's <Logical>Alias<name>: its physical id is the ARN)
        counts = push_all(
            args.root, lambda map_id: physical.get(f"{machines[map_id]}Alias{ALIAS}") or physical[machines[map_id]]
        )
    except ContentError as exc:
        print(f"error: {exc}")
        return 2
    print(", ".join(f"{n} {kind}" for kind, n in counts.items()) + f" pushed to {args.stack_name}")
    return 0
