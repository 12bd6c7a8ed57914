"""The maps a simulation runs: the YAML given, compiled in memory, never a compiled file.

:func:`load` reads and validates the map file (``automaps.maps.loader``: every problem, named by
file, step and field) and the project's other maps (``maps/*.yaml`` next to the template), the
given file taking the place of the map with its id, and checks the steps that name other maps
against them. :func:`deploy` compiles each and puts it on the local runtime's stack as
`automaps publish` would: a state machine the template deploys gets the new definition as a new
version with its alias ``live`` moved to it (unless the compiled file held just that: then nothing
is done, since moto parses every definition it is given, about a second each); a map the template
does not deploy yet (not in its generated block) gets its state machine created, named as the stack names them. Then the content
is pushed and the maps registered from these same models (their triggers, goals and versions), so
a stale ``statemachines/<id>.asl.json`` plays no part.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from automaps.maps.model import Map
    from automaps_local.runtime import LocalRuntime

LOG = logging.getLogger(__name__)


def load(path: Path, root: Path) -> tuple[Map, list[Map]]:
    """The map of ``path`` and every map to deploy with it (it included). MapError with one line
    per problem of the file: the loader's, then those `automaps validate` and `compile` find
    against content/ (templates, forms, segments, merge fields, ...) and the other maps (the
    steps that name them). Another map of maps/ that does not load is left out (with a warning)."""
    from automaps.maps.loader import MapError, load_map, map_files
    from automaps_local.validate import check

    map_ = load_map(path)
    chosen = path.resolve()
    others: dict[Path, Map] = {}
    folder = root / "maps"
    for file in map_files(folder) if folder.is_dir() else []:
        if file.resolve() == chosen:
            continue
        try:
            other = load_map(file)
        except MapError as error:
            LOG.warning("not deployed in the simulation: %s", str(error).splitlines()[0])
            continue
        if other.id != map_.id:  # the file given takes the place of the map with its id
            others[file] = other
    content = root / "content"
    _, findings = check([path, *others], content if content.is_dir() else None)
    mine = [f for f in findings if f.file == str(path) or Path(f.file).is_relative_to(content)]
    if mine:
        raise MapError("\n".join(dict.fromkeys(f.line() for f in mine)))
    return map_, [map_, *others.values()]


def deploy(runtime: LocalRuntime, maps: list[Map]) -> None:
    """Compile ``maps`` and deploy them on the runtime's stack; push the content and register them."""
    from automaps.maps.compiler import compile_map, to_json
    from automaps_local.push import map_record, push_all
    from automaps_local.wiring import logical_id, substitutions

    stack = runtime.stack
    assert stack is not None
    records = []
    for map_ in maps:
        compiled = to_json(compile_map(map_))
        logical = logical_id(map_.id)
        definition = stack.substitute(compiled, substitutions(stack.template, compiled, f"map {map_.id}"), logical)
        start_arn, version_arn = _put_machine(runtime, map_.id, logical, definition)
        record = map_record(map_, start_arn, map_.content_hash())
        if version_arn:
            record = record.model_copy(update={"versions": {map_.content_hash(): version_arn}})
        records.append(record)
    if (runtime.root / "content").is_dir():
        push_all(runtime.root, runtime.state_machine_arn, records=records)
    else:
        from automaps.journeys.enrollment import register

        for record in records:
            register(record)


def _put_machine(runtime: LocalRuntime, map_id: str, logical: str, definition: str) -> tuple[str, str | None]:
    """(the ARN executions start on, the version it runs) after putting ``definition`` there."""
    from automaps import aws
    from automaps_local.stack import LocalStateMachine
    from automaps_local.wiring import ALIAS

    stack = runtime.stack
    assert stack is not None
    sfn = aws.client("stepfunctions")
    machine = stack.state_machines.get(map_id)
    if machine is None:
        name = f"{stack.stack_name}-{map_id}"
        created = sfn.create_state_machine(
            name=name, definition=definition, roleArn=_role(runtime), type="STANDARD", publish=True
        )
        version = created["stateMachineVersionArn"]
        routing = [{"stateMachineVersionArn": version, "weight": 100}]
        alias = sfn.create_state_machine_alias(name=ALIAS, routingConfiguration=routing)["stateMachineAliasArn"]
        stack.state_machines[map_id] = LocalStateMachine(
            logical, name, map_id, created["stateMachineArn"], definition, alias
        )
        return alias, version
    if json.loads(machine.definition) == json.loads(definition):  # the compiled file was up to date
        from automaps_local.push import deployed_versions

        return machine.start_arn, next(iter(deployed_versions(machine.start_arn).values()), None)
    if not machine.alias_arn:  # a template state machine without AutoPublishAlias
        sfn.update_state_machine(stateMachineArn=machine.arn, definition=definition)
        stack.state_machines[map_id] = replace(machine, definition=definition)
        return machine.arn, None
    version = sfn.update_state_machine(stateMachineArn=machine.arn, definition=definition, publish=True)[
        "stateMachineVersionArn"
    ]
    routing = [{"stateMachineVersionArn": version, "weight": 100}]
    sfn.update_state_machine_alias(stateMachineAliasArn=machine.alias_arn, routingConfiguration=routing)
    stack.state_machines[map_id] = replace(machine, definition=definition)
    return machine.alias_arn, version


def _role(runtime: LocalRuntime) -> str:
    """The role the stack's state machines run as (moto checks only that it is an IAM role ARN)."""
    from automaps import aws
    from automaps_local.stack import ACCOUNT

    name = f"{runtime.stack.stack_name if runtime.stack else 'automaps'}-local-states"
    try:
        return str(aws.client("iam").get_role(RoleName=name)["Role"]["Arn"])
    except aws.client("iam").exceptions.NoSuchEntityException:
        return f"arn:aws:iam::{ACCOUNT}:role/{name}"
