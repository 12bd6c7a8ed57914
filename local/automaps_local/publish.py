"""`automaps publish maps/<map>.yaml --stack-name S`: change one map on a deployed stack without
a full redeploy.

    automaps publish maps/welcome-leads.yaml --stack-name shop                 # --policy keep
    automaps publish maps/welcome-leads.yaml --stack-name shop --policy move   # contacts follow the edit

In this order, each step safe to run again:
1. validate and compile the map (nothing is written when it has an error);
2. push the content (templates, forms, segments, connections, routers; as `automaps push`) and
   check the templates and forms the map uses exist;
3. publish a new version of the map's state machine (UpdateStateMachine with publish; nothing
   when the definition is what the alias runs already) and move the alias ``live`` to it: new
   enrollments start on the new version, runs started before stay on theirs;
4. register the map (triggers, goals, its versions: a contact resumed later continues on the
   version it is on);
5. apply the migration policy to the contacts on older versions (automaps.journeys.migrate):
   ``keep`` (default), ``move`` (continue on the new version at the same step) or ``remove``.

`sam deploy` does the same through SAM's versions and aliases (AutoPublishAlias ``live`` on every
generated state machine), with ``keep``; run `automaps publish --policy move` after it to move
contacts. A map the stack does not deploy yet needs `automaps compile` and `sam deploy` first.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from automaps_local.test_email import add_stack_arguments, use_stack
from automaps_local.wiring import ALIAS, logical_id, substitutions

Resolve = Callable[[Any], str]
"""A template intrinsic (``{"Ref": "XFunction.Alias"}``, ``{"Fn::GetAtt": [...]}``) -> its value."""


class PublishError(RuntimeError):
    """Publishing cannot go on; the message says why and what to do."""


@dataclass
class Published:
    map_id: str
    map_version: str
    version_arn: str
    previous_version_arn: str | None
    changed: bool
    migration: Any  # automaps.journeys.migrate.Migration
    diff: Any = None  # automaps.maps.diff.MapDiff against the map the registry held (None: it held none)

    def lines(self) -> list[str]:
        number = self.version_arn.rsplit(":", 1)[1]
        before = self.previous_version_arn.rsplit(":", 1)[1] if self.previous_version_arn else "none"
        head = (
            f"{self.map_id}: version {number} published (map version {self.map_version}); alias {ALIAS} moved from "
            f"version {before}"
            if self.changed
            else f"{self.map_id}: unchanged, alias {ALIAS} stays on version {number} (map version {self.map_version})"
        )
        steps = []
        if self.diff is not None:
            for what, found in (
                ("added", self.diff.added),
                ("removed", self.diff.removed),
                ("changed", self.diff.changed),
            ):
                if found:
                    steps.append(f"{what} {', '.join(s.step for s in found)}")
        return [
            head,
            *([f"steps: {'; '.join(steps)}"] if steps else []),
            f"contacts: {self.migration.summary()}",
            *(f"  {move}: {count}" for move, count in sorted(self.migration.moves.items())),
        ]


def publish(
    path: Path, *, root: Path, machine_arn: str, resolve: Resolve, template: Any, policy: str = "keep"
) -> Published:
    """Publish the map file ``path`` onto the state machine ``machine_arn`` (its alias is
    ``<machine_arn>:live``); ``resolve`` gives the values of the substitutions (function ARNs)."""
    from automaps import aws
    from automaps.journeys import migrate
    from automaps.journeys.enrollment import map_record as registered
    from automaps.maps.compiler import compile_map, to_json
    from automaps.maps.diff import diff_maps
    from automaps.maps.loader import load_map
    from automaps.maps.model import Map
    from automaps_local.push import _templates_used, load_templates, map_record, push_all

    if policy not in migrate.POLICIES:
        raise PublishError(f"unknown --policy {policy!r}: use keep, move or remove")
    map_ = load_map(path)  # MapError names the file, step and field
    asl = compile_map(map_)
    compiled = to_json(asl)
    missing = sorted(_templates_used(asl) - set(load_templates(root)))
    if missing:
        raise PublishError(f"{path}: email template(s) {', '.join(missing)} have no content/templates/<name>.yaml")
    definition = _substitute(compiled, substitutions(template, compiled, str(path)), resolve)

    sfn, alias_arn = aws.client("stepfunctions"), f"{machine_arn}:{ALIAS}"
    previous = _alias_version(sfn, alias_arn)
    current = sfn.describe_state_machine(stateMachineArn=previous)["definition"] if previous else None
    changed = current is None or json.loads(current) != json.loads(definition)
    if changed:
        version_arn = sfn.update_state_machine(
            stateMachineArn=machine_arn,
            definition=definition,
            publish=True,
            versionDescription=f"automaps publish: map {map_.id} version {map_.content_hash()}",
        )["stateMachineVersionArn"]
        routing = [{"stateMachineVersionArn": version_arn, "weight": 100}]
        sfn.update_state_machine_alias(stateMachineAliasArn=alias_arn, routingConfiguration=routing)
    else:
        version_arn = str(previous)

    old = registered(map_.id)
    edit = diff_maps(Map.model_validate(old.source), map_) if old is not None and old.source else None
    record = map_record(map_, alias_arn, map_.content_hash())
    record = record.model_copy(update={"versions": {map_.content_hash(): version_arn}})
    push_all(root, lambda _: alias_arn, records=[record])
    report = migrate.migrate(old, asl, map_.content_hash(), policy, map_id=map_.id)
    return Published(map_.id, map_.content_hash(), version_arn, previous, changed, report, edit)


def _alias_version(sfn: Any, alias_arn: str) -> str | None:
    from botocore.exceptions import ClientError

    try:
        routes = sfn.describe_state_machine_alias(stateMachineAliasArn=alias_arn)["routingConfiguration"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("ResourceNotFound", "StateMachineDoesNotExist"):
            raise PublishError(
                f"{alias_arn} does not exist: the stack's state machine has no alias {ALIAS!r}; "
                "run `automaps compile` and `sam deploy` once (it publishes the first version)"
            ) from None
        raise
    return str(max(routes, key=lambda r: r["weight"])["stateMachineVersionArn"]) if routes else None


def _substitute(compiled: str, wanted: dict[str, Any], resolve: Resolve) -> str:
    values = {name: resolve(value) for name, value in wanted.items()}
    for name, value in values.items():
        compiled = compiled.replace(f"${{{name}}}", value)
    return compiled


# ---------------------------------------------------------------- a deployed stack


def stack_target(stack_name: str, region: str | None, map_id: str) -> tuple[str, Resolve]:
    """The map's state machine ARN on the stack and how its substitutions resolve there (each
    function's ``live`` alias, or its ARN)."""
    import boto3

    cfn = boto3.client("cloudformation", region_name=region)
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack_name)
        for r in page["StackResourceSummaries"]
    }
    machine = physical.get(logical_id(map_id))
    if not machine:
        raise PublishError(
            f"stack {stack_name} does not deploy map {map_id!r} ({logical_id(map_id)}); a new map needs "
            "`automaps compile` and `sam deploy` first"
        )
    region_account = ":".join(machine.split(":")[1:5]).replace(":states:", ":lambda:")

    def resolve(value: Any) -> str:
        if "Ref" in value:
            function = str(value["Ref"]).removesuffix(".Alias")
            alias = physical.get(f"{function}Alias{ALIAS}")
            return alias or f"arn:{region_account}:function:{physical[function]}:{ALIAS}"
        function = value["Fn::GetAtt"][0]
        return f"arn:{region_account}:function:{physical[function]}"

    return machine, resolve


# ---------------------------------------------------------------- the command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("map", type=Path, help="the map file to publish, e.g. maps/welcome-leads.yaml")
    parser.add_argument(
        "--policy",
        default="keep",
        choices=["keep", "move", "remove"],
        help="contacts on older versions: keep them there (default), move them to the new version "
        "at the same step, or remove them from the map",
    )
    parser.add_argument("--root", default=".", type=Path, help="the project folder (content/, template.yaml)")
    add_stack_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from automaps.maps.loader import MapError, load_map
    from automaps_local.push import ContentError, use_starts_scheduler
    from automaps_local.template import Template

    if not args.stack_name:
        print(
            "error: --stack-name is required (the local runtime publishes with LocalRuntime.publish)", file=sys.stderr
        )
        return 2
    try:
        map_id = load_map(args.map).id
        use_stack(args.stack_name, args.region)
        import boto3

        use_starts_scheduler(boto3.client("cloudformation", region_name=args.region), args.stack_name)
        machine, resolve = stack_target(args.stack_name, args.region, map_id)
        done = publish(
            args.map,
            root=args.root,
            machine_arn=machine,
            resolve=resolve,
            template=Template.load(args.root / "template.yaml"),
            policy=args.policy,
        )
    except (MapError, PublishError, ContentError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for line in done.lines():
        print(line)
    return 0
