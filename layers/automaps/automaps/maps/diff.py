"""What an edit of a map changes: steps added, removed and changed, and the map's own changes.

:func:`diff_maps` compares two versions of one map (``automaps.maps.model.Map``) without any I/O.
Steps are matched by their *label* (``walk``): the step's id, or for a step without id the name
derived from its position (``"3"``, ``"engaged.then.0"``). That is the ``step`` a contact's
position of record names (``automaps.journeys.positions``), so a changed or removed label is
exactly where contacts already inside are affected. A step without id that moves (a step
inserted above it) changes label: it shows as removed at its old label and added at its new
one, as it would for the contacts sitting on it; ids keep steps matched across edits.

Each changed step lists its :class:`Change` s, each of one *aspect*:

``type``       the step's kind or action type (``send_email`` -> ``send_sms``, ``wait`` -> ``if``)
``settings``   an action's settings (``template``, ``text``, ...), one dotted key each
``condition``  ``only_if``, an ``if``, a switch case's ``when``, what a goal / wait_until awaits
``timing``     a ``wait``, an action's ``when``, a goal's / wait_until's ``timeout`` and ``on_timeout``
``next``       where the contact goes after the step: the next step, an if's ``then`` / ``else``, a
               switch's cases, a fork's branches, a go_to's target
``place``      the list the step stands in (moved into or out of a branch)

The map's own changes (:attr:`MapDiff.map_changes`) are of aspect ``triggers``, ``goals`` or
``settings`` (entry, waits, timezone, sending, ...). Everything is ordered deterministically: steps in
reading order (removed ones in the old map's order), changes by aspect, then by key.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from automaps.maps.model import (
    ActionStep,
    EndStep,
    ForkStep,
    GoalStep,
    GoToStep,
    IfStep,
    Map,
    StepBase,
    StepRef,
    SwitchStep,
    WaitStep,
    WaitUntilStep,
    format_path,
    walk,
)

Aspect = Literal["type", "settings", "condition", "timing", "next", "place", "triggers", "goals"]
ASPECTS: tuple[str, ...] = ("type", "settings", "condition", "timing", "next", "place", "triggers", "goals")
END = "(end)"
"""The ``next`` of a step after which the contact leaves the map (the last step, ``end``)."""


class Change(BaseModel):
    """One difference: its ``aspect``, ``key`` (what changed, e.g. ``template``, ``wait.days``,
    ``only_if``, ``else``), the ``old`` and ``new`` values (None: absent) and ``text``, in words."""

    model_config = ConfigDict(frozen=True)

    aspect: Aspect
    key: str
    old: Any = None
    new: Any = None
    text: str


class StepDiff(BaseModel):
    """A step added, removed or changed, by its label (``step``: what positions record)."""

    model_config = ConfigDict(frozen=True)

    step: str
    status: Literal["added", "removed", "changed"]
    kind: str
    """The step's kind (an action type, ``wait``, ``if``, ...): the new one, the old one if removed."""
    path: str
    """Where it stands (``steps[3].then[0]``): in the new map, in the old one if removed."""
    named: bool
    """Whether the step has an id (False: its label comes from its position)."""
    changes: list[Change] = Field(default_factory=list)

    @property
    def aspects(self) -> list[str]:
        return [aspect for aspect in ASPECTS if any(change.aspect == aspect for change in self.changes)]


class MapDiff(BaseModel):
    """What :func:`diff_maps` found between ``old`` and ``new`` of map ``map_id``."""

    model_config = ConfigDict(frozen=True)

    map_id: str
    old_version: str | None
    """``Map.content_hash()`` of the old map; None when there was none (every step is added)."""
    new_version: str
    added: list[StepDiff] = Field(default_factory=list)
    removed: list[StepDiff] = Field(default_factory=list)
    changed: list[StepDiff] = Field(default_factory=list)
    map_changes: list[Change] = Field(default_factory=list)

    @property
    def unchanged(self) -> bool:
        return not (self.added or self.removed or self.changed or self.map_changes)

    @property
    def affected(self) -> list[str]:
        """The labels of the changed and removed steps: where contacts already inside are concerned."""
        return [step.step for step in (*self.changed, *self.removed)]

    def step(self, label: str) -> StepDiff | None:
        return next((s for s in (*self.added, *self.removed, *self.changed) if s.step == label), None)


def diff_maps(old: Map | None, new: Map) -> MapDiff:
    """Compare two versions of a map (``old`` None: a new map). Pure and deterministic."""
    new_refs, new_links = _index(new)
    if old is None:
        added = [_summary(ref, "added") for ref in new_refs.values()]
        return MapDiff(map_id=new.id, old_version=None, new_version=new.content_hash(), added=added)
    old_refs, old_links = _index(old)
    added, changed = [], []
    for label, ref in new_refs.items():
        if label not in old_refs:
            added.append(_summary(ref, "added"))
            continue
        changes = _step_changes(old_refs[label], ref, old_links[label], new_links[label])
        if changes:
            changed.append(_summary(ref, "changed", changes))
    removed = [_summary(ref, "removed") for label, ref in old_refs.items() if label not in new_refs]
    return MapDiff(
        map_id=new.id,
        old_version=old.content_hash(),
        new_version=new.content_hash(),
        added=added,
        removed=removed,
        changed=changed,
        map_changes=_map_changes(old, new),
    )


# ---------------------------------------------------------------- steps


class _Links(BaseModel):
    """Where a step leads (edge -> label, or END) and the list it stands in (``place``)."""

    edges: dict[str, str]
    place: str


def _index(map_: Map) -> tuple[dict[str, StepRef], dict[str, _Links]]:
    refs = walk(map_)
    by_label = {ref.label: ref for ref in refs}
    label_of = {id(ref.step): ref.label for ref in refs}
    links: dict[str, _Links] = {}
    _link(map_.steps, END, "the map's steps", label_of, links)
    return by_label, links


def _link(steps: list[StepBase], after: str, place: str, label_of: dict[int, str], out: dict[str, _Links]) -> None:
    """Record each step's edges: its next step is the one below it, or ``after`` for the last."""
    for i, step in enumerate(steps):
        label = label_of[id(step)]
        following = label_of[id(steps[i + 1])] if i + 1 < len(steps) else after
        edges: dict[str, str] = {}
        if isinstance(step, GoToStep):
            edges = {"go_to": step.go_to}
        elif isinstance(step, EndStep):
            edges = {"next": END}
        elif isinstance(step, IfStep):
            edges = {
                "then": label_of[id(step.then[0])],
                "else": label_of[id(step.else_[0])] if step.else_ else following,
            }
            _link(step.then, following, f"the then branch of {label!r}", label_of, out)
            if step.else_:
                _link(step.else_, following, f"the else branch of {label!r}", label_of, out)
        elif isinstance(step, SwitchStep):
            for n, case in enumerate(step.switch, 1):
                edges[f"case {n}"] = label_of[id(case.then[0])]
                _link(case.then, following, f"case {n} of {label!r}", label_of, out)
            edges["default"] = label_of[id(step.default[0])] if step.default else following
            if step.default:
                _link(step.default, following, f"the default of {label!r}", label_of, out)
        elif isinstance(step, ForkStep):
            joined = f"(fork {label} joins)"
            for n, branch in enumerate(step.fork, 1):
                edges[f"branch {n}"] = label_of[id(branch[0])]
                _link(branch, joined, f"branch {n} of {label!r}", label_of, out)
            edges["next"] = following
        else:
            edges = {"next": following}
        out[label] = _Links(edges=edges, place=place)


def _summary(
    ref: StepRef, status: Literal["added", "removed", "changed"], changes: list[Change] | None = None
) -> StepDiff:
    return StepDiff(
        step=ref.label,
        status=status,
        kind=ref.step.kind,
        path=format_path(ref.path),
        named=ref.step.id is not None,
        changes=changes or [],
    )


def _step_changes(old: StepRef, new: StepRef, old_links: _Links, new_links: _Links) -> list[Change]:
    changes: list[Change] = []
    if old.step.kind != new.step.kind:
        changes.append(_change("type", "type", old.step.kind, new.step.kind))
    else:
        old_facets, new_facets = _facets(old.step), _facets(new.step)
        for key in sorted(set(old_facets) | set(new_facets), key=lambda k: (ASPECTS.index(_aspect_of(k)), k)):
            before, after = old_facets.get(key), new_facets.get(key)
            if before != after:
                changes.append(_change(_aspect_of(key), key.split(":", 1)[1], before, after))
    for edge in sorted(set(old_links.edges) | set(new_links.edges), key=_edge_order):
        before, after = old_links.edges.get(edge), new_links.edges.get(edge)
        if before != after:
            changes.append(_change("next", edge, before, after))
    if old_links.place != new_links.place:
        changes.append(_change("place", "place", old_links.place, new_links.place))
    return changes


def _aspect_of(key: str) -> Aspect:
    aspect = key.split(":", 1)[0]
    assert aspect in ASPECTS
    return aspect  # type: ignore[return-value]


def _edge_order(edge: str) -> tuple[int, int, str]:
    name, _, number = edge.partition(" ")
    order = ("then", "else", "case", "default", "branch", "go_to", "next")
    return (order.index(name) if name in order else len(order), int(number) if number.isdigit() else 0, edge)


def _facets(step: StepBase) -> dict[str, Any]:
    """``"<aspect>:<key>"`` -> value, for everything about a step but where it leads."""
    found: dict[str, Any] = {}
    if isinstance(step, ActionStep):
        for key, value in _flat(_dump(step.settings)).items():
            found[f"settings:{key}"] = value
        found["timing:when"] = _dump(step.when)
        found["condition:only_if"] = _dump(step.only_if)
    elif isinstance(step, WaitStep):
        for key, value in _flat(_dump(step.wait), "wait").items():
            found[f"timing:{key}"] = value
    elif isinstance(step, IfStep):
        found["condition:if"] = _dump(step.if_)
    elif isinstance(step, SwitchStep):
        for n, case in enumerate(step.switch, 1):
            found[f"condition:case {n} when"] = _dump(case.when)
    elif isinstance(step, (GoalStep, WaitUntilStep)):
        awaited = step.goal if isinstance(step, GoalStep) else step.wait_until
        found[f"condition:{step.kind}.condition"] = _dump(awaited.condition)
        found[f"condition:{step.kind}.event"] = _dump(awaited.event)
        found[f"timing:{step.kind}.timeout"] = _dump(awaited.timeout)
        found[f"timing:{step.kind}.on_timeout"] = awaited.on_timeout
    return found


def _dump(value: Any) -> Any:
    return value.model_dump(mode="json", by_alias=True, exclude_none=True) if isinstance(value, BaseModel) else value


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted keys (``{"a": {"b": 1}}`` -> ``{"a.b": 1}``); lists stay whole."""
    if not isinstance(value, dict) or (prefix and not value):
        return {prefix: value}
    found: dict[str, Any] = {}
    for key, item in value.items():
        found.update(_flat(item, f"{prefix}.{key}" if prefix else str(key)))
    return found


# ---------------------------------------------------------------- the map itself


_OWN_SETTINGS = ("steps", "triggers", "goals")


def _map_changes(old: Map, new: Map) -> list[Change]:
    changes = _keyed_changes("triggers", _triggers(old), _triggers(new))
    changes += _keyed_changes("goals", _goals(old), _goals(new))
    old_settings = _flat({k: v for k, v in _dump(old).items() if k not in _OWN_SETTINGS})
    new_settings = _flat({k: v for k, v in _dump(new).items() if k not in _OWN_SETTINGS})
    for key in sorted(set(old_settings) | set(new_settings)):
        before, after = old_settings.get(key), new_settings.get(key)
        if before != after:
            changes.append(_change("settings", key, before, after))
    return changes


def _triggers(map_: Map) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for trigger in map_.triggers:
        name = f"{trigger.kind} {trigger.key}".strip()
        key, n = name, 1
        while key in found:
            n += 1
            key = f"{name} #{n}"
        found[key] = _dump(trigger)
    return found


def _goals(map_: Map) -> dict[str, Any]:
    return {goal.id: _dump(goal) for goal in map_.goals}


def _keyed_changes(aspect: Aspect, old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    return [
        _change(aspect, key, old.get(key), new.get(key))
        for key in sorted(set(old) | set(new))
        if old.get(key) != new.get(key)
    ]


# ---------------------------------------------------------------- in words


def _change(aspect: Aspect, key: str, old: Any, new: Any) -> Change:
    return Change(aspect=aspect, key=key, old=old, new=new, text=_words(aspect, key, old, new))


def _words(aspect: str, key: str, old: Any, new: Any) -> str:
    if aspect == "type":
        return f"type: {old} -> {new}"
    if aspect == "place":
        return f"moved from {old} to {new}"
    if aspect == "next":
        what = {"next": "next step", "go_to": "go_to"}.get(key, f"{key} goes to")
        return f"{what}: {_target(old)} -> {_target(new)}"
    if aspect in ("triggers", "goals"):
        noun = aspect.removesuffix("s")
        if old is None:
            return f"{noun} added: {key} {show(new)}"
        if new is None:
            return f"{noun} removed: {key}"
        before, after = _flat(old), _flat(new)
        parts = [
            f"{sub} {show(before.get(sub))} -> {show(after.get(sub))}"
            for sub in sorted(set(before) | set(after))
            if before.get(sub) != after.get(sub)
        ]
        return f"{noun} {key}: {'; '.join(parts)}"
    label = {"settings": "setting", "condition": "condition", "timing": "timing"}[aspect]
    return f"{label} {key}: {show(old)} -> {show(new)}"


def _target(label: str | None) -> str:
    if label is None:
        return "(none)"
    if label == END:
        return "leaves the map"
    return label if label.startswith("(") else repr(label)


def show(value: Any) -> str:
    """A value in a line of text, written as in a map file: ``(none)``, ``'welcome'``, ``2``,
    ``{field: {name: age, gt: 45}}``."""
    if value is None:
        return "(none)"
    return repr(value) if isinstance(value, str) else _flow(value)


_DURATION_ORDER = ("weeks", "days", "hours", "minutes", "seconds")
_DURATION = frozenset(_DURATION_ORDER)


def _flow(value: Any) -> str:
    if isinstance(value, dict):
        shown = {key: item for key, item in value.items() if item not in ({}, [])}  # defaults such as where: {}
        if value and set(value) <= _DURATION:  # a duration: its parts that are not 0
            shown = {key: value[key] for key in _DURATION_ORDER if value.get(key)} or {"seconds": 0}
        return "{" + ", ".join(f"{_flow(key)}: {_flow(item)}" for key, item in shown.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(item) for item in value) + "]"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str) and _PLAIN.fullmatch(value):
        return value
    return json.dumps(value)


_PLAIN = re.compile(r"[A-Za-z_][\w.@/+-]*(:\d\d)*|\d\d:\d\d")
