"""How maps meet template.yaml: which state machine resource deploys which map, and whether the
template wires everything a compiled machine uses.

A map ``welcome-leads`` is deployed by an ``AWS::Serverless::StateMachine`` whose
``DefinitionUri`` is ``statemachines/welcome-leads.asl.json`` and whose ``Name`` is
``${AWS::StackName}-welcome-leads`` (the enrollment code derives ARNs from that name).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from automaps_local.template import Template

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def definition_path(map_id: str) -> str:
    return f"statemachines/{map_id}.asl.json"


def machines_by_map(template: Template) -> dict[str, str]:
    """map id -> logical id of the state machine resource that deploys it."""
    found: dict[str, str] = {}
    for logical, resource in template.of_type("AWS::Serverless::StateMachine").items():
        uri = str(resource.get("Properties", {}).get("DefinitionUri", ""))
        match = re.fullmatch(r"statemachines/([a-z0-9-]+)\.asl\.json", uri)
        if match:
            found[match.group(1)] = logical
    return found


def placeholders(definition_text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(definition_text))


def check(template: Template, map_ids: list[str], root: Path) -> list[str]:
    """Every problem with the pairing of maps and template resources, as sentences."""
    problems: list[str] = []
    machines = machines_by_map(template)
    for map_id in sorted(set(map_ids) - set(machines)):
        problems.append(
            f"template.yaml: no AWS::Serverless::StateMachine deploys map {map_id!r}; add one "
            f"with DefinitionUri: {definition_path(map_id)} (copy WelcomeLeadsStateMachine)"
        )
    for map_id in sorted(set(machines) - set(map_ids)):
        problems.append(
            f"template.yaml: {machines[map_id]} deploys {definition_path(map_id)} but maps/ has no "
            f"map {map_id!r}; remove the resource or restore the map"
        )
    for map_id in sorted(set(machines) & set(map_ids)):
        problems += _check_machine(template, machines[map_id], map_id, root)
    return problems


def _check_machine(template: Template, logical: str, map_id: str, root: Path) -> list[str]:
    props: dict[str, Any] = template.resources[logical]["Properties"]
    problems = []
    name = props.get("Name")
    if name != {"Fn::Sub": f"${{AWS::StackName}}-{map_id}"}:
        problems.append(
            f'template.yaml: {logical} needs Name: !Sub "${{AWS::StackName}}-{map_id}" '
            "(enrollment derives the state machine ARN from it)"
        )
    path = root / definition_path(map_id)
    if path.exists():
        missing = placeholders(path.read_text()) - set(props.get("DefinitionSubstitutions", {}))
        for name in sorted(missing):
            problems.append(
                f"template.yaml: {logical} does not substitute ${{{name}}}, which "
                f"{definition_path(map_id)} uses; add it to DefinitionSubstitutions"
            )
    return problems
