"""Reading maps from YAML files, with errors that say which file, which step and what to change.

Every problem becomes one line of a :class:`MapError`::

    maps/welcome.yaml: step 'engaged' (steps[3].if.any[0]): unknown condition key 'opened_emal'; use one of all, any, not, has_tag, field

The step is named by its id when it has one; otherwise the path alone (``steps[3].then[0]...``)
points at it. Pydantic's error locations are translated into these paths: the tags pydantic adds
for the step and condition unions are dropped, since they are not keys the user wrote.
"""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from automaps.conditions import COMBINATORS, LEAVES
from automaps.maps.model import (
    MAP_KEYS,
    PLANNED_MAP_KEYS,
    STEP_ID,
    ActionStep,
    Map,
    Path,
    Problem,
    check,
    format_path,
    suggest,
    walk,
)

CONDITION_KEYS = (*COMBINATORS, *LEAVES)


class MapError(ValueError):
    """A map that cannot be used; the message has one line per problem."""


def load_map(path: str | FilePath) -> Map:
    """Read, validate and check one map file."""
    path = FilePath(path)
    data = _read_yaml(path)
    try:
        map_ = Map.model_validate(data)
    except ValidationError as error:
        raise MapError("\n".join(_validation_lines(path, data, error))) from None
    problems = check(map_)
    if problems:
        raise MapError("\n".join(_line(path, problem) for problem in problems))
    return map_


def load_maps(directory: str | FilePath) -> list[Map]:
    """Every map in ``directory`` (``*.yaml``, ``*.yml``), in file-name order; all problems of
    all files are reported together, then the maps are checked against each other
    (:func:`cross_map_problems`)."""
    directory = FilePath(directory)
    if not directory.is_dir():
        raise MapError(f"{directory}: no such directory of maps")
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    maps: list[Map] = []
    errors: list[str] = []
    seen: dict[str, FilePath] = {}
    for file in files:
        try:
            map_ = load_map(file)
        except MapError as error:
            errors.append(str(error))
            continue
        if map_.id in seen:
            errors.append(
                f"{file}: id: map id {map_.id!r} is already used by {seen[map_.id]}; give each map its own id"
            )
            continue
        seen[map_.id] = file
        maps.append(map_)
    if not errors:
        errors = cross_map_problems({seen[map_.id]: map_ for map_ in maps})
    if errors:
        raise MapError("\n".join(errors))
    return maps


MOVES: dict[str, tuple[str, str]] = {
    "add_to_automation": ("map", "map"),
    "remove_from_automation": ("map", "map"),
    "pause_automation": ("map", "map"),
    "unpause_automation": ("map", "map"),
    "add_to_sequence": ("sequence", "sequence"),
    "remove_from_sequence": ("sequence", "sequence"),
    "pause_sequence": ("sequence", "sequence"),
    "unpause_sequence": ("sequence", "sequence"),
    "start_follow_up": ("follow_up", "follow_up"),
    "stop_follow_up": ("follow_up", "follow_up"),
}
"""The actions that name another map: action -> (the setting that names it, the kind it must be)."""
_ACTIONS_FOR = {"map": "add_to_automation", "sequence": "add_to_sequence", "follow_up": "start_follow_up"}


def cross_map_problems(maps: dict[FilePath, Map]) -> list[str]:
    """Steps that name another map (``MOVES``): it must be one of ``maps``, not the map itself,
    and of the right kind; a map add_to_automation adds to must be entered by an
    ``added_to_automation`` trigger that takes contacts from this map (a sequence or follow-up
    has one implicitly: :meth:`Map.entered_by`). One line per problem, naming the file, the
    step and the other map."""
    by_id = {map_.id: (file, map_) for file, map_ in maps.items()}
    lines = []
    for file, map_ in maps.items():
        for ref in walk(map_):
            step = ref.step
            if not isinstance(step, ActionStep) or step.action not in MOVES:
                continue
            setting, kind = MOVES[step.action]
            other_id = getattr(step.settings, setting)
            message = _move_problem(map_, step.action, kind, other_id, by_id)
            if message:
                lines.append(_format(file, (*ref.path, step.action, setting), step.id, message))
    return lines


def _move_problem(map_: Map, action: str, kind: str, other_id: str, by_id: dict[str, tuple[FilePath, Map]]) -> str:
    if other_id == map_.id:
        return f"{action} names this map itself ({other_id!r}); a map can only move its contacts on other maps"
    if other_id not in by_id:
        known = sorted(i for i, (_, m) in by_id.items() if m.kind == kind and i != map_.id)
        options = f"; maps of kind {kind} here: {', '.join(known)}" if known else f"; there is no map of kind {kind}"
        return f"{action} names map {other_id!r}, which is not among the maps loaded{suggest(other_id, known)}{options}"
    other_file, other = by_id[other_id]
    if other.kind != kind:
        return (
            f"{action} names map {other_id!r} ({other_file}), which is of kind {other.kind}; {action} takes a map "
            f"of kind {kind} (for a {other.kind}, use {_ACTIONS_FOR[other.kind]} and its siblings)"
        )
    if action != "add_to_automation":
        return ""
    triggers = [t for t in other.entered_by() if t.kind == "added_to_automation"]
    if not triggers:
        return (
            f"add_to_automation names map {other_id!r} ({other_file}), which has no added_to_automation trigger, "
            "so no map can add contacts to it; add `- added_to_automation: {}` to its triggers"
        )
    takes = [
        t
        for t in triggers
        if getattr(t.body, "map", None) in (None, other_id) and getattr(t.body, "from_", None) in (None, map_.id)
    ]
    if not takes:
        return (
            f"add_to_automation names map {other_id!r} ({other_file}), whose added_to_automation triggers do not "
            f"take contacts added by {map_.id!r}; add `- added_to_automation: {{from: {map_.id}}}` to its triggers"
        )
    return ""


# ---------------------------------------------------------------- YAML


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (YAML would keep the last)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice in the same mapping; keep one", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _read_yaml(path: FilePath) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise MapError(f"{path}: cannot read the file: {error.strerror}") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as error:
        raise MapError(f"{path}: {_yaml_problem(error)}") from None
    if not isinstance(data, dict):
        found = "nothing" if data is None else f"a {type(data).__name__}"
        raise MapError(f"{path}: a map file holds one mapping with id, name, triggers and steps; found {found}")
    return data


def _yaml_problem(error: yaml.MarkedYAMLError) -> str:
    mark = error.problem_mark or error.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    return (
        f"{where}YAML syntax error: {error.problem or error.context}; check the indentation, and put "
        "quotes around text that contains ': ' or starts with {, [, *, &, !, % or @"
    )


# ---------------------------------------------------------------- locating problems


def _line(file: FilePath, problem: Problem) -> str:
    return _format(file, problem.path, problem.step_id, problem.message)


def _format(file: FilePath, path: Path, step_id: str | None, message: str) -> str:
    where = format_path(path)
    if step_id:
        return f"{file}: step {step_id!r} ({where}): {message}"
    return f"{file}: {where}: {message}" if where else f"{file}: {message}"


# What each position in a map holds. Pydantic puts the tag of a tagged union (steps, conditions)
# into the error location right after the position of the union; "*_tagged" marks those places.
_NEXT: dict[str, dict[str | type, str]] = {
    "map": {"steps": "steps", "triggers": "triggers"},
    "triggers": {int: "trigger_tagged"},
    "trigger": {"only_if": "condition_tagged"},
    "steps": {int: "step_tagged"},
    "step": {
        "then": "steps",
        "else": "steps",
        "default": "steps",
        "switch": "cases",
        "fork": "branches",
        "if": "condition_tagged",
        "only_if": "condition_tagged",
    },
    "cases": {int: "case"},
    "case": {"when": "condition_tagged", "then": "steps"},
    "branches": {int: "steps"},
    "condition": {"all": "conditions", "any": "conditions", "not": "condition_tagged"},
    "conditions": {int: "condition_tagged"},
}


class _Location:
    """An error location in user terms: the path, the innermost step (path and id), and what the
    position holds (``context``), found by walking pydantic's location through the input."""

    def __init__(self, loc: tuple[str | int, ...], data: Any) -> None:
        self.path: Path = ()
        self.step_path: Path = ()
        self.step_id: str | None = None
        self.context = "map"
        self.parent_context = "map"
        tagged = False
        for part in loc:
            if tagged:
                tagged = False
                continue
            self.path = (*self.path, part)
            data = (
                data.get(part)
                if isinstance(data, dict)
                else (data[part] if isinstance(data, list) and isinstance(part, int) and part < len(data) else None)
            )
            table = _NEXT.get(self.context, {})
            self.parent_context, self.context = self.context, table.get(int if isinstance(part, int) else part, "other")
            if self.context.endswith("_tagged"):
                self.context, tagged = self.context.removesuffix("_tagged"), True
            if self.context == "step":
                self.step_path = self.path
                step_id = data.get("id") if isinstance(data, dict) else None
                self.step_id = step_id if isinstance(step_id, str) and STEP_ID.fullmatch(step_id) else None


def _validation_lines(file: FilePath, data: Any, error: ValidationError) -> list[str]:
    lines = []
    for item in error.errors(include_url=False):
        location = _Location(item["loc"], data)
        path, message = _explain(item, location)
        step_id = location.step_id if path[: len(location.step_path)] == location.step_path else None
        lines.append(_format(file, path, step_id, message))
    return list(dict.fromkeys(lines))


_NOUNS = {
    "fork": ("branch", "branches"),
    "switch": ("case", "cases"),
    "triggers": ("trigger", "triggers"),
    "weekdays": ("weekday", "weekdays"),
    "all": ("condition", "conditions"),
    "any": ("condition", "conditions"),
}


def _explain(item: ErrorDetails, location: _Location) -> tuple[Path, str]:
    """The path to show and the message, in words that say what to change."""
    kind, path, value = item["type"], location.path, item.get("input")
    last = path[-1] if path else ""
    if kind == "missing":
        return path[:-1], f"missing required key {last!r}"
    if kind == "extra_forbidden":
        return path[:-1], _unknown_key(str(last), location.parent_context)
    if kind == "unknown_condition":
        return path, _unknown_condition(value)
    if kind == "value_error":
        return path, str(item["ctx"]["error"])
    if kind == "too_short" and isinstance(value, list):
        noun, plural = _NOUNS.get(str(last), ("step", "steps") if location.context == "steps" else ("entry", "entries"))
        count = item["ctx"]["min_length"]
        return path, f"needs at least {count} {noun if count == 1 else plural}; it has {len(value)}"
    if kind == "timezone_aware":
        return path, "add a timezone to this date-time, e.g. 2026-03-01T09:00:00Z or 2026-03-01T10:00:00+01:00"
    message = item["msg"][:1].lower() + item["msg"][1:]
    return path, f"{message}; got {value!r}" if isinstance(value, (str, int, float, bool)) else message


def _unknown_key(key: str, context: str) -> str:
    if context == "map":
        if key in PLANNED_MAP_KEYS:
            return f"{key!r} is not supported yet; remove it for now"
        return f"unknown key {key!r}{suggest(key, MAP_KEYS)}; a map has: {', '.join(MAP_KEYS)}"
    return f"unknown key {key!r}; remove it or correct its spelling"


def _unknown_condition(value: Any) -> str:
    use = f"use one of {', '.join(CONDITION_KEYS)}"
    if not isinstance(value, dict) or not value:
        return f"a condition is a mapping with one key; {use}"
    if len(value) > 1:
        keys = ", ".join(map(str, value))
        return f"a condition has exactly one key, this one has {keys}; combine conditions with all: [...] or any: [...]"
    key = str(next(iter(value)))
    return f"unknown condition key {key!r}{suggest(key, CONDITION_KEYS)}; {use}"
