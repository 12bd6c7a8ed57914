"""Reading maps from YAML files, with errors that say which file, which step and what to change.

Every problem becomes one line of a :class:`MapError`::

    maps/welcome.yaml: step 'engaged' (steps[3].if.any[0]): unknown condition key 'opened_emal'; use one of all, any, not, has_tag, field

The step is named by its id when it has one; otherwise the path alone (``steps[3].then[0]...``)
points at it. Pydantic's error locations are translated into these paths: the tags pydantic adds
for the step and condition unions are dropped, since they are not keys the user wrote.

All problems of a file come at once: after pydantic's errors, keys it refused as unknown are taken
out and steps or triggers it refused are stood in for (:func:`_retry_data`), and the map is
validated again, so the checks that need a whole map (:func:`check`, the cross-map checks, and
``automaps validate``'s content checks, automaps.maps.validate) still run on the rest. Problems
that follow from the stand-ins (at or under the path taken out) are dropped.

Plain scalars that YAML 1.1 reads as something else than they look (``at: 9:30`` is the number
570, ``no`` the boolean false, ``012`` the octal number 10, ``2026-01-01`` a date) are found by
walking the parsed nodes (:func:`odd_scalars`): a refused value there gets "write it in quotes".
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path as FilePath
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from automaps.conditions import COMBINATORS, LEAVES
from automaps.maps.model import (
    MAP_KEYS,
    PLANNED_MAP_KEYS,
    STEP_ID,
    STEP_MODELS,
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
    """A map that cannot be used; the message has one line per problem (``findings``: the same, as data)."""

    def __init__(self, message: str, findings: list[Finding] | None = None) -> None:
        super().__init__(message)
        self.findings = findings or []


@dataclass(frozen=True)
class Finding:
    """One problem: the file, where in it (``path``), the step's id when it has one, and what to change."""

    file: str
    path: Path
    step_id: str | None
    message: str

    def line(self) -> str:
        return _format(FilePath(self.file), self.path, self.step_id, self.message)

    def to_dict(self) -> dict[str, Any]:
        """The problem for editors and CI (``automaps validate --format json``)."""
        return {
            "file": self.file,
            "step": self.step_id,
            "where": format_path(self.path),
            "message": self.message,
            "line": self.line(),
        }


def _error(findings: list[Finding]) -> MapError:
    lines = list(dict.fromkeys(finding.line() for finding in findings))
    return MapError("\n".join(lines), findings)


def load_map(path: str | FilePath) -> Map:
    """Read, validate and check one map file; every problem of the file in one MapError."""
    reading = read_map(path)
    if reading.findings or reading.map is None:
        raise _error(reading.findings)
    return reading.map


@dataclass(frozen=True)
class Reading:
    """One map file read: its map and every problem found in it. With problems, ``map`` (if any)
    is the file with the refused parts taken out or stood in for (at the paths ``dropped``):
    good enough to check the rest of it, never to compile."""

    map: Map | None
    findings: list[Finding]
    dropped: list[Path]


def read_map(path: str | FilePath) -> Reading:
    """The map of one file and all its problems (:class:`Reading`)."""
    path = FilePath(path)
    try:
        data, odd = _read_yaml(path)
    except MapError as error:
        return Reading(None, [Finding(str(path), (), None, str(error).removeprefix(f"{path}: "))], [])
    map_, findings, dropped = _validated(path, data, odd)
    if map_ is not None:
        findings += [
            Finding(str(path), problem.path, problem.step_id, problem.message)
            for problem in check(map_)
            if not _under(problem.path, dropped)
        ]
    findings += _odd_findings(path, data, odd, findings)
    return Reading(map_, _unique(findings), dropped)


def _unique(findings: list[Finding]) -> list[Finding]:
    seen: dict[str, Finding] = {}
    for finding in findings:
        seen.setdefault(finding.line(), finding)
    return list(seen.values())


def _under(path: Path, prefixes: list[Path]) -> bool:
    return any(path[: len(prefix)] == prefix for prefix in prefixes)


def load_maps(directory: str | FilePath) -> list[Map]:
    """Every map in ``directory`` (``*.yaml``, ``*.yml``), in file-name order; all problems of
    all files are reported together, with those of the maps checked against each other
    (:func:`cross_map_problems`)."""
    directory = FilePath(directory)
    if not directory.is_dir():
        raise MapError(f"{directory}: no such directory of maps")
    readings = read_maps(map_files(directory))
    if readings.findings:
        raise _error(readings.findings)
    return list(readings.maps.values())


def map_files(directory: FilePath) -> list[FilePath]:
    """The map files of a directory, in file-name order."""
    return sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])


@dataclass(frozen=True)
class Readings:
    """Map files read together: the maps that loaded (even with problems: :class:`Reading`),
    the paths stood in for in each, and every problem."""

    maps: dict[FilePath, Map]
    dropped: dict[FilePath, list[Path]]
    findings: list[Finding]


def read_maps(files: list[FilePath]) -> Readings:
    """Each file's map and problems, map ids used twice, and the steps that name other maps."""
    maps: dict[FilePath, Map] = {}
    dropped: dict[FilePath, list[Path]] = {}
    findings: list[Finding] = []
    seen: dict[str, FilePath] = {}
    failed = False
    for file in files:
        reading = read_map(file)
        findings += reading.findings
        if reading.map is None:
            failed = True
            continue
        if reading.map.id == _MAP_STAND_INS["id"]:  # (its own id was refused: no other map can name it)
            dropped[file] = reading.dropped
            maps[file] = reading.map
            continue
        if reading.map.id in seen:
            message = f"map id {reading.map.id!r} is already used by {seen[reading.map.id]}; give each map its own id"
            findings.append(Finding(str(file), ("id",), None, message))
            continue
        seen[reading.map.id] = file
        maps[file], dropped[file] = reading.map, reading.dropped
    findings += [
        finding
        for finding in cross_map_findings(maps, complete=not failed)
        if not _under(finding.path, dropped[FilePath(finding.file)])
    ]
    return Readings(maps, dropped, findings)


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
    return [finding.line() for finding in cross_map_findings(maps)]


def cross_map_findings(maps: dict[FilePath, Map], *, complete: bool = True) -> list[Finding]:
    """:func:`cross_map_problems` as findings. Not ``complete`` (a file that did not load may
    hold the map named): a map that is not among ``maps`` is not a problem here."""
    by_id = {map_.id: (file, map_) for file, map_ in maps.items()}
    found = []
    for file, map_ in maps.items():
        for ref in walk(map_):
            step = ref.step
            if not isinstance(step, ActionStep) or step.action not in MOVES:
                continue
            setting, kind = MOVES[step.action]
            other_id = getattr(step.settings, setting)
            if not complete and other_id not in by_id:
                continue
            message = _move_problem(map_, step.action, kind, other_id, by_id)
            if message:
                found.append(Finding(str(file), (*ref.path, step.action, setting), step.id, message))
    return found


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


def _read_yaml(path: FilePath) -> tuple[Any, dict[Path, OddScalar]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise MapError(f"{path}: cannot read the file: {error.strerror}") from None
    loader = _UniqueKeyLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as error:
        raise MapError(f"{path}: {_yaml_problem(error)}") from None
    finally:
        loader.dispose()
    if node is None or not isinstance(data, dict):
        found = "nothing" if data is None else f"a {type(data).__name__}"
        raise MapError(f"{path}: a map file holds one mapping with id, name, triggers and steps; found {found}")
    return data, odd_scalars(node, data)


def _yaml_problem(error: yaml.MarkedYAMLError) -> str:
    mark = error.problem_mark or error.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    return (
        f"{where}YAML syntax error: {error.problem or error.context}; check the indentation, and put "
        "quotes around text that contains ': ' or starts with {, [, *, &, !, % or @"
    )


@dataclass(frozen=True)
class OddScalar:
    """A plain (unquoted) scalar that YAML 1.1 reads as something else than text."""

    text: str
    """As written, e.g. ``9:30``."""
    reads: str
    """What YAML made of it, e.g. ``the number 570``."""
    always: bool
    """A problem wherever it stands (9:30 as 570, 012 as 10: nobody means those)."""

    def hint(self) -> str:
        also = (
            f" (or {self.reads.split()[-1]}, if you mean the boolean)" if self.reads.startswith("the boolean") else ""
        )
        return f"YAML reads the unquoted {self.text} as {self.reads}; write it in quotes: '{self.text}'{also}"


_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_OCTAL = re.compile(r"[-+]?0[0-7_]+")


def odd_scalars(node: yaml.Node, data: Any, path: Path = ()) -> dict[Path, OddScalar]:
    """The plain scalars of a parsed document that are not read as the text they look like,
    by path: ``9:30`` (sexagesimal: 570), ``012`` (octal: 10), ``yes``/``no``/``on``/``off``
    (booleans) and dates (``2026-01-01``)."""
    found: dict[Path, OddScalar] = {}
    if isinstance(node, yaml.MappingNode) and isinstance(data, dict) and len(node.value) == len(data):
        for (_, value_node), (key, value) in zip(node.value, data.items(), strict=True):
            found |= odd_scalars(value_node, value, (*path, key))
    elif isinstance(node, yaml.SequenceNode) and isinstance(data, list) and len(node.value) == len(data):
        for i, (item_node, item) in enumerate(zip(node.value, data, strict=True)):
            found |= odd_scalars(item_node, item, (*path, i))
    elif isinstance(node, yaml.ScalarNode) and node.style is None:
        odd = _odd(node.tag, node.value, data)
        if odd:
            found[path] = odd
    return found


def _odd(tag: str, text: str, value: Any) -> OddScalar | None:
    if tag in (_INT, _FLOAT) and ":" in text:
        return OddScalar(text, f"the number {value} (base 60)", True)
    if tag == _INT and _OCTAL.fullmatch(text) and text.strip("-+0_"):
        return OddScalar(text, f"the octal number {value}", True)
    if tag == _BOOL and text.lower() not in ("true", "false"):
        return OddScalar(text, f"the boolean {str(value).lower()}", False)
    if tag == _TIMESTAMP:
        return OddScalar(text, "a date-time" if "t" in text.lower() or ":" in text else "a date", False)
    return None


_FREE = ("set", "eq", "ne", "where", "body", "headers", "fields")
"""Settings whose values may be anything: a boolean or date YAML made of a word there is kept as
it is (update_contact set: {answer: no} stores false), so it is reported."""
_FLAGS = ("exists", "is_set", "is_empty")
"""Keys under those whose value is a boolean (``where: {cart_id: {exists: yes}}`` means true)."""


def _odd_findings(file: FilePath, data: Any, odd: dict[Path, OddScalar], findings: list[Finding]) -> list[Finding]:
    """The odd scalars no finding has explained yet: those that are always wrong, and booleans
    and dates in settings that take any value."""
    explained = {finding.path for finding in findings if "quotes" in finding.message}
    found = []
    for path, scalar in odd.items():
        if path in explained or path[:-1] in explained:
            continue
        free = any(part in _FREE for part in path if isinstance(part, str)) and path[-1] not in _FLAGS
        if scalar.always or free:
            location = _Location(path, data, tagged_loc=False)
            found.append(Finding(str(file), path, location.step_id, scalar.hint()))
    return found


# ---------------------------------------------------------------- validating, all problems at once

_RETRIES = 4
_STAND_IN_TEMPLATE = "automaps-stand-in"
_STAND_IN_EVENT = "automaps.stand-in"


def _validated(file: FilePath, data: Any, odd: dict[Path, OddScalar]) -> tuple[Map | None, list[Finding], list[Path]]:
    """The map (or None), pydantic's problems, all of them, and the paths stood in for: after each
    round, unknown keys are taken out and refused steps and triggers stood in for, and the map is
    validated again, until it validates or nothing more can be stood in for. Later rounds'
    problems at or under a path changed are dropped (they follow from the change: a send_email
    whose misspelt 'subjcet' was taken out has no subject)."""
    findings: list[Finding] = []
    changed: list[Path] = []
    stand_ins: list[Path] = []
    current = data
    for _ in range(_RETRIES):
        try:
            return Map.model_validate(current), findings, stand_ins
        except ValidationError as error:
            items = error.errors(include_url=False)
            findings += [f for f in _validation_findings(file, current, items, odd) if not _under(f.path, changed)]
            retry = _retry_data(current, items)
            if retry is None:
                return None, findings, stand_ins
            current, stripped, stood_in = retry
            changed += stripped + stood_in
            stand_ins += stood_in
    return None, findings, stand_ins


def _retry_data(data: Any, items: list[ErrorDetails]) -> tuple[Any, list[Path], list[Path]] | None:
    """``data`` without the unknown keys (and the paths of the mappings they were taken from),
    with a stand-in for each step and trigger refused (a send_email step with the step's id; a
    generic event trigger; and their paths); None when a problem lies elsewhere (the map's own
    keys), where nothing stands in."""
    new = copy.deepcopy(data)
    stripped: list[Path] = []
    stood_in: list[Path] = []
    for item in items:
        location = _Location(item["loc"], data)
        if item["type"] in ("extra_forbidden", "invalid_key") and location.path:
            _delete(new, location.path)
            stripped.append(location.path[:-1])
        elif location.step_path:
            old = _get(data, location.step_path)
            step_id = old.get("id") if isinstance(old, dict) else None
            stand_in: dict[str, Any] = {"send_email": {"template": _STAND_IN_TEMPLATE}}
            if isinstance(step_id, str) and STEP_ID.fullmatch(step_id):
                stand_in["id"] = step_id
            _set(new, location.step_path, stand_in)
            stood_in.append(location.step_path)
        elif len(location.path) >= 2 and location.path[0] == "triggers" and isinstance(location.path[1], int):
            _set(new, location.path[:2], {"event": {"kind": _STAND_IN_EVENT}})
            stood_in.append(location.path[:2])
        elif location.path[:1] and location.path[0] in _MAP_STAND_INS and isinstance(new, dict):
            key = str(location.path[0])
            if _MAP_STAND_INS[key] is None:
                new.pop(key, None)
            else:
                new[key] = _MAP_STAND_INS[key]
            stood_in.append((key,))
        else:
            return None
    return new, stripped, stood_in


_MAP_STAND_INS: dict[str, Any] = {
    "id": "automaps-stand-in",
    "name": "stand-in",
    "description": None,
    "entry": None,
    "waits": None,
    "missing_fields": None,
    "on_error": None,
    "sending": None,
    "goals": None,
}
"""The map's own keys a refused value of which is stood in for (None: taken out, the default
applies). ``timezone`` is not: the checks of times of day depend on it (a refused one is the
only problem reported for it)."""


def _has(data: Any, part: str | int) -> bool:
    if isinstance(data, dict):
        return part in data
    return isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)


def _get(data: Any, path: Path) -> Any:
    for part in path:
        if not _has(data, part):
            return None
        data = data[part]
    return data


def _set(data: Any, path: Path, value: Any) -> None:
    parent = _get(data, path[:-1])
    if _has(parent, path[-1]):
        parent[path[-1]] = value


def _delete(data: Any, path: Path) -> None:
    parent = _get(data, path[:-1])
    if isinstance(parent, dict):
        parent.pop(path[-1], None)


def is_stand_in(step: Any) -> bool:
    """Whether a step of a map read with problems stands in for a step that was refused."""
    return isinstance(step, ActionStep) and getattr(step.settings, "template", None) == _STAND_IN_TEMPLATE


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
    """An error location in user terms: the path, the innermost step (path and id), what the
    position holds (``context``), and the model that holds the last key (``model``), found by
    walking pydantic's location through the input. ``tagged_loc``: the location is pydantic's,
    with the tags of the tagged unions in it (False: a path the user wrote)."""

    def __init__(self, loc: tuple[str | int, ...] | Path, data: Any, *, tagged_loc: bool = True) -> None:
        self.path: Path = ()
        self.step_path: Path = ()
        self.step_id: str | None = None
        self.context = "map"
        self.parent_context = "map"
        self.parent_model: Any = Map
        self.model: Any = Map
        tagged = False
        for part in loc:
            if tagged:
                tagged = False
                self.model = _member(self.model, part)
                continue
            self.path = (*self.path, part)
            data = (
                data.get(part)
                if isinstance(data, dict)
                else (data[part] if isinstance(data, list) and isinstance(part, int) and part < len(data) else None)
            )
            self.parent_model, self.model = self.model, _inner(self.model, part)
            table = _NEXT.get(self.context, {})
            self.parent_context, self.context = self.context, table.get(int if isinstance(part, int) else part, "other")
            if self.context.endswith("_tagged"):
                self.context, tagged = self.context.removesuffix("_tagged"), tagged_loc
                if not tagged_loc:  # the member is the one whose tag is a key of the value
                    keys = list(data) if isinstance(data, dict) else ["end"] if data == "end" else []
                    self.model = next(filter(None, (_member(self.model, key) for key in keys)), None)
            if self.context == "step":
                self.step_path = self.path
                step_id = data.get("id") if isinstance(data, dict) else None
                self.step_id = step_id if isinstance(step_id, str) and STEP_ID.fullmatch(step_id) else None


def _unwrap(annotation: Any) -> Any:
    """The type inside Annotated and Optional (``X | None`` -> X)."""
    while True:
        if get_origin(annotation) is Annotated:
            annotation = get_args(annotation)[0]
            continue
        members = [a for a in get_args(annotation) if a is not type(None)]
        if get_origin(annotation) in (Union, UnionType) and len(members) == 1:
            annotation = members[0]
            continue
        return annotation


def _inner(annotation: Any, part: str | int) -> Any:
    """The type at ``part`` inside a value of type ``annotation`` (None when it cannot be told)."""
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel) and isinstance(part, str):
        for name, field in annotation.model_fields.items():
            if part in (name, field.alias):
                return field.annotation
        return None
    origin = get_origin(annotation)
    if origin in (list, tuple) and isinstance(part, int):
        return get_args(annotation)[0]
    if origin is dict:
        return get_args(annotation)[1]
    return annotation if get_origin(annotation) in (Union, UnionType) else None


def _member(annotation: Any, tag: str | int) -> Any:
    """The member of a tagged union (steps, triggers, conditions) whose tag is ``tag``."""
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for member in get_args(annotation):
        if get_origin(member) is Annotated and any(getattr(m, "tag", None) == tag for m in get_args(member)[1:]):
            return get_args(member)[0]
    return None


def _keys_of(annotation: Any) -> list[str]:
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [field.alias or name for name, field in annotation.model_fields.items()]
    return []


def _validation_findings(
    file: FilePath, data: Any, items: list[ErrorDetails], odd: dict[Path, OddScalar]
) -> list[Finding]:
    findings = []
    for item in items:
        location = _Location(item["loc"], data)
        path, message = _explain(item, location)
        scalar = odd.get(location.path)
        if scalar is not None and "quotes" not in message and (scalar.always or _is_type_error(item["type"])):
            message = f"{message}; {scalar.hint()}"
        step_id = location.step_id if path[: len(location.step_path)] == location.step_path else None
        findings.append(Finding(str(file), path, step_id, message))
    return findings


def _is_type_error(kind: str) -> bool:
    """A value of the wrong type (text expected, a boolean given ...), not a wrong value of the right one."""
    return kind.endswith(("_type", "_parsing")) or kind in ("literal_error", "enum")


def _validation_lines(file: FilePath, data: Any, error: ValidationError) -> list[str]:
    """Pydantic's errors as lines (one per problem; kept for callers of the single round)."""
    found = _validation_findings(file, data, error.errors(include_url=False), {})
    return list(dict.fromkeys(finding.line() for finding in found))


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
        return path[:-1], _unknown_key(last, location)
    if kind == "invalid_key":
        if isinstance(value, bool):
            return path[:-1], (
                f"a key YAML reads as the boolean {str(value).lower()}: an unquoted on, off, yes or no is one; write "
                "the key in quotes (e.g. 'on': ...), or correct its spelling"
            )
        return path[:-1], f"keys are text; got {value!r}: write the key in quotes"
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


_STEP_KEYS = ("id", "when", "only_if")


def _unknown_key(key: Any, location: _Location) -> str:
    context, name = location.parent_context, str(key)
    if isinstance(key, bool):
        return (
            f"unknown key {key!r}: YAML reads an unquoted on, off, yes or no as a boolean; write the key in "
            "quotes, e.g. 'on':"
        )
    if context == "map":
        if name in PLANNED_MAP_KEYS:
            return f"{name!r} is not supported yet; remove it for now"
        return f"unknown key {name!r}{suggest(name, MAP_KEYS)}; a map has: {', '.join(MAP_KEYS)}"
    allowed = _keys_of(location.parent_model)
    if context == "step":
        kind = next((k for k in allowed if k in STEP_MODELS), None)
        if kind:
            return f"unknown key {name!r} in a {kind} step{suggest(name, allowed)}; a {kind} step has: {', '.join(allowed)}"
    if name in _STEP_KEYS and location.path[-2:-1] and str(location.path[-2]) in STEP_MODELS:
        return (
            f"{name!r} belongs to the step, not to its {location.path[-2]} settings: write it one level out, "
            f"beside {location.path[-2]}:"
        )
    hint = suggest(name, allowed) if allowed else ""
    return f"unknown key {name!r}{hint}; remove it or correct its spelling"


def _unknown_condition(value: Any) -> str:
    use = f"use one of {', '.join(CONDITION_KEYS)}"
    if not isinstance(value, dict) or not value:
        return f"a condition is a mapping with one key; {use}"
    if len(value) > 1:
        keys = ", ".join(map(str, value))
        return f"a condition has exactly one key, this one has {keys}; combine conditions with all: [...] or any: [...]"
    key = str(next(iter(value)))
    return f"unknown condition key {key!r}{suggest(key, CONDITION_KEYS)}; {use}"
