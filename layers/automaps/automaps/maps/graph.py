"""A map as a picture: Mermaid flowchart text (for a pull request or a README) and a standalone SVG.

Both are drawn from one graph of the map (:func:`graph`): the triggers at the top, one node per
step (named by its label, the ``step_id`` the history records: an action with its settings in
words, a branch with its conditions in words, a wait with its timing in words, goals, forks,
go-tos as edges back, ``end``), the other maps a step adds the contact to (or removes, pauses,
starts) as nodes of their own, and the map's goals. With ``counts`` (``{step_id: {"waiting": 3,
"done": 10, ...}}``, the ``steps`` of ``automaps.journeys.stats.read_map``) each step carries its
numbers. Pure and deterministic: the same map and counts give the same bytes.

The SVG is laid out by grandalf's Sugiyama layout (layered, top-down; go-tos back are drawn
along the right margin); its text is text (not paths) and every step is a group with an
``aria-label``, under the SVG's ``<title>`` and ``<desc>``.
"""

from __future__ import annotations

import json
import re
import textwrap
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from automaps.conditions.words import describe
from automaps.maps.model import (
    ActionStep,
    Awaited,
    EndStep,
    ForkStep,
    GoalStep,
    GoToStep,
    IfStep,
    Map,
    StepBase,
    SwitchStep,
    WaitStep,
    WaitUntilStep,
    walk,
)
from automaps.timing import Timing, duration_words

Counts = dict[str, dict[str, Any]]

WRAP = 38
"""Characters per line of a node's text."""
MAX_VALUE = 60
"""A setting's value longer than this is cut (with an ellipsis)."""

COUNT_ORDER = (
    "waiting",
    "done",
    "skipped",
    "failed",
    "sent",
    "delivered",
    "opened",
    "clicked",
    "bounced",
    "complained",
    "unsubscribed",
)
ALWAYS_SHOWN = frozenset({"waiting", "done", "skipped", "failed", "sent", "opened", "clicked"})
"""Counts shown even at 0 (a step's outcomes, a message's sends and opens); the others only when not 0."""
NOT_SHOWN = frozenset({"opens", "clicks", "rates"})
"""Raw totals behind the unique ``opened``/``clicked`` (and the rates, shown beside their counts)."""

MOVES = {
    "add_to_automation": ("map", "adds to"),
    "remove_from_automation": ("map", "removes from"),
    "pause_automation": ("map", "pauses in"),
    "unpause_automation": ("map", "unpauses in"),
    "add_to_sequence": ("sequence", "adds to"),
    "remove_from_sequence": ("sequence", "removes from"),
    "pause_sequence": ("sequence", "pauses in"),
    "unpause_sequence": ("sequence", "unpauses in"),
    "start_follow_up": ("follow-up", "starts"),
    "stop_follow_up": ("follow-up", "stops"),
}
"""Actions that link to another map: what the other map is, and what the step does to the contact there."""


# ---------------------------------------------------------------- the graph


@dataclass(frozen=True)
class Node:
    key: str
    """A name safe in Mermaid and SVG ids: ``t0`` (triggers), ``s0`` (steps, in reading order),
    ``m0`` (other maps), ``g0`` (the map's goals), ``exit``."""
    kind: str
    """The step's kind (``send_email`` is ``action``), or trigger, map, map_goal, exit."""
    title: str
    """The first line: the step's label, "trigger", the other map's id ..."""
    parts: tuple[str, ...] = ()
    """What it does, in words: one phrase each (the action, its ``when``, its ``only_if``)."""
    counts: tuple[str, ...] = ()
    """Its numbers, e.g. ``("waiting 3 · done 10",)``."""
    step: str | None = None
    """The step's label (``step_id``), for step nodes."""

    @property
    def lines(self) -> tuple[str, ...]:
        """The phrases wrapped at :data:`WRAP` characters (the SVG's lines)."""
        return _wrap(*self.parts)

    @property
    def words(self) -> str:
        """Everything the node says, on one line (an aria-label)."""
        text = f"{self.title}: {'; '.join(self.parts)}" if self.parts else self.title
        return text + (f" ({' · '.join(self.counts)})" if self.counts else "")


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str = ""
    style: str = "flow"
    """``flow`` (the next step), ``back`` (a go_to to an earlier step), ``link`` (to another map),
    ``return`` (back from another map)."""


@dataclass
class Graph:
    map_id: str
    name: str
    description: str
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    def node(self, key: str) -> Node:
        return next(node for node in self.nodes if node.key == key)


def graph(map_: Map, counts: Counts | None = None) -> Graph:
    """The map's nodes and edges, in a fixed order (reading order of the steps)."""
    return _Builder(map_, counts or {}).build()


class _Builder:
    def __init__(self, map_: Map, counts: Counts) -> None:
        self.map = map_
        self.counts = counts
        self.refs = walk(map_)
        self.keys = {id(ref.step): f"s{i}" for i, ref in enumerate(self.refs)}
        self.by_id = {ref.step.id: ref for ref in reversed(self.refs) if ref.step.id}
        self.result = Graph(map_.id, map_.name, (map_.description or "").strip())
        self.others: dict[tuple[str, str], str] = {}

    def build(self) -> Graph:
        nodes, edges = self.result.nodes, self.result.edges
        triggers = self.map.entered_by()
        for i, trigger in enumerate(triggers):
            nodes.append(Node(f"t{i}", "trigger", "trigger", (_trigger_words(trigger),)))
        for i, goal in enumerate(self.map.goals):
            what = describe(goal.condition) if goal.condition is not None else _event_words(goal.event)
            nodes.append(
                Node(f"g{i}", "map_goal", f"goal {goal.id}", (f"anywhere in the map: {what}, then leave the map",))
            )
        for ref in self.refs:
            nodes.append(self._step_node(ref.step, ref.label))
        ends = self._flow(self.map.steps, [(f"t{i}", "") for i in range(len(triggers))])
        if ends:
            words = "stays subscribed (until removed)" if self.map.stays_after_last_step else "leaves the map"
            nodes.append(Node("exit", "exit", "the end", (words,)))
            edges.extend(Edge(source, "exit", label) for source, label in ends)
        return self.result

    # -------------------------------------------------- nodes

    def _step_node(self, step: StepBase, label: str) -> Node:
        key = self.keys[id(step)]
        counts = _count_lines(self.counts.get(label))
        kind = "action" if isinstance(step, ActionStep) else step.kind
        return Node(key, kind, label, tuple(self._step_words(step)), counts, label)

    def _step_words(self, step: StepBase) -> list[str]:
        if isinstance(step, ActionStep):
            words = [f"{step.action.replace('_', ' ')}{_settings_words(step.settings)}"]
            if step.when is not None:
                words.append(_timing_words(step.when, self.map, action=True))
            if step.only_if is not None:
                words.append(f"only if {describe(step.only_if)}")
            return words
        if isinstance(step, WaitStep):
            return [_timing_words(step.wait, self.map)]
        if isinstance(step, IfStep):
            return [f"if {describe(step.if_)}"]
        if isinstance(step, SwitchStep):
            return [f"switch: {len(step.switch)} case{'s' if len(step.switch) > 1 else ''}"]
        if isinstance(step, ForkStep):
            return [f"fork: {len(step.fork)} branches side by side, then on when all have finished"]
        if isinstance(step, GoToStep):
            return [f"go to {step.go_to}"]
        if isinstance(step, EndStep):
            return ["end: leaves the map"]
        if isinstance(step, GoalStep):
            return [f"goal: {_awaited_words(step.goal)}"]
        if isinstance(step, WaitUntilStep):
            return [f"wait until {_awaited_words(step.wait_until)}"]
        return [step.kind]  # pragma: no cover - every kind is above

    def _other_map(self, what: str, map_id: str) -> str:
        known = self.others.get((what, map_id))
        if known is None:
            known = self.others[(what, map_id)] = f"m{len(self.others)}"
            self.result.nodes.append(Node(known, "map", f"{what} {map_id}", ("another map",)))
        return known

    # -------------------------------------------------- edges

    def _flow(self, steps: list[StepBase], incoming: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """Edges into and inside ``steps``; returns the (node, label) pairs that go on after them."""
        edges = self.result.edges
        for step in steps:
            key = self.keys[id(step)]
            edges.extend(Edge(source, key, label) for source, label in incoming)
            incoming = self._after(step, key)
        return incoming

    def _after(self, step: StepBase, key: str) -> list[tuple[str, str]]:
        edges = self.result.edges
        if isinstance(step, EndStep):
            return []
        if isinstance(step, GoToStep):
            target = self.by_id.get(step.go_to)
            if target is not None:
                back = target.order <= self.refs[int(key[1:])].order
                edges.append(Edge(key, self.keys[id(target.step)], "go to", "back" if back else "flow"))
            return []
        if isinstance(step, IfStep):
            ends = self._flow(step.then, [(key, "yes")])
            return ends + (self._flow(step.else_, [(key, "no")]) if step.else_ else [(key, "no")])
        if isinstance(step, SwitchStep):
            ends = []
            for case in step.switch:
                ends += self._flow(case.then, [(key, _cut(describe(case.when), 48))])
            return ends + (self._flow(step.default, [(key, "otherwise")]) if step.default else [(key, "otherwise")])
        if isinstance(step, ForkStep):
            ends = []
            for i, branch in enumerate(step.fork):
                ends += self._flow(branch, [(key, f"branch {i + 1}")])
            return ends
        if isinstance(step, ActionStep) and step.action in MOVES:
            what, verb = MOVES[step.action]
            other = self._other_map(what, str(getattr(step.settings, what.replace("-", "_"))))
            edges.append(Edge(key, other, verb, "link"))
            if getattr(step.settings, "return_", False):
                edges.append(Edge(other, key, "comes back", "return"))
        if isinstance(step, (GoalStep, WaitUntilStep)):
            awaited = step.goal if isinstance(step, GoalStep) else step.wait_until
            if awaited.timeout is not None and awaited.on_timeout == "exit":
                return [(key, "")]  # the timeout's exit is in the node's words
        return [(key, "")]


# ---------------------------------------------------------------- words


def _wrap(*parts: str) -> tuple[str, ...]:
    lines: list[str] = []
    for part in parts:
        lines += textwrap.wrap(part, WRAP, break_long_words=True, break_on_hyphens=False) or [""]
    return tuple(lines)


def _cut(text: str, length: int = MAX_VALUE) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


def _value_words(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_value_words(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key} {_value_words(item)}" for key, item in value.items())
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _settings_words(settings: BaseModel) -> str:
    """``: template welcome``: the settings given (not the defaults), each value cut short."""
    given = settings.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)
    parts = [f"{key} {_cut(_value_words(value))}" for key, value in given.items()]
    return f": {'; '.join(parts)}" if parts else ""


def _trigger_words(trigger: Any) -> str:
    words = trigger.kind.replace("_", " ")
    spec = trigger.spec()
    if len(spec) == 1 and isinstance(next(iter(spec.values())), str):
        words += f": {_cut(next(iter(spec.values())))}"
    elif spec:
        words += f": {_cut(_value_words(spec))}"
    if trigger.only_if is not None:
        words += f", only if {describe(trigger.only_if)}"
    return words


def _event_words(event: Any) -> str:
    where = "".join(
        f", {name} {_value_words(test) if isinstance(test, dict) else '= ' + json.dumps(test)}"
        for name, test in event.where.items()
    )
    return f"event {event.kind}{where}"


def _awaited_words(awaited: Awaited) -> str:
    what = describe(awaited.condition) if awaited.condition is not None else _event_words(awaited.event)
    if awaited.timeout is None:
        return what
    then = "go on" if awaited.on_timeout == "continue" else "leave the map"
    return f"{what}; at most {duration_words(awaited.timeout.total_seconds)}, then {then}"


def _timing_words(spec: Timing, map_: Map, *, action: bool = False) -> str:
    """A wait in words (``wait 2 days, then the next 09:00 in ...``), or with ``action`` an action's
    ``when`` (``runs after 4 hours``, ``runs inside 09:00-17:00 on mon, ...``)."""
    words = []
    if spec.delay_seconds:
        words.append(f"{'runs after' if action else 'wait'} {duration_words(spec.delay_seconds)}")
    if spec.until:
        words.append(f"{'runs at' if action else 'wait until'} {spec.until.isoformat().replace('+00:00', 'Z')}")
    if spec.until_field:
        offset = spec.offset.total_seconds if spec.offset else 0
        shift = f"{duration_words(abs(offset))} {'before' if offset < 0 else 'after'} " if offset else ""
        yearly = "the next anniversary of " if spec.yearly else ""
        lead = ("runs " if shift else "runs at ") if action else "wait until "
        words.append(f"{lead}{shift}{yearly}the contact's field {spec.until_field}")
    if spec.local_slot:
        if spec.between:
            slot, lead = f"inside {spec.between[0]}-{spec.between[1]}", "runs " if action else "wait until "
        else:
            slot = f"the next {spec.at}" if spec.at else "the next allowed day"
            lead = "runs at " if action else "wait until "
        days = f" on {', '.join(spec.weekdays)}" if spec.weekdays else ""
        zone = spec.timezone or "contact"
        where = f"the contact's timezone (else {map_.timezone})" if zone == "contact" else zone
        words.append(f"{'then ' if words else lead}{slot}{days} in {where}")
    if spec.skips_if_past:
        words.append("skipped if already past")
    if spec.spread is not None:
        words.append(f"spread over {duration_words(spec.spread.total_seconds)}")
    return ", ".join(words)


def _count_lines(numbers: Any) -> tuple[str, ...]:
    """``{"waiting": 0, "done": 10, "sent": 10, "opened": 4, "rates": {"opened": 0.4}}`` ->
    ``("waiting 0 · done 10", "sent 10 · opened 4 (40%)")``: a step's outcomes on the first line,
    its messages after; counts other than :data:`ALWAYS_SHOWN` only when not 0."""
    if not isinstance(numbers, dict) or not numbers:
        return ()
    rates = numbers.get("rates") if isinstance(numbers.get("rates"), dict) else {}
    names = [name for name in COUNT_ORDER if name in numbers]
    names += sorted(name for name in numbers if name not in COUNT_ORDER and name not in NOT_SHOWN)
    outcomes: list[str] = []
    messages: list[str] = []
    for name in names:
        value = numbers[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (not value and name not in ALWAYS_SHOWN):
            continue
        rate = rates.get(name) if isinstance(rates, dict) else None
        share = f" ({rate * 100:.0f}%)" if isinstance(rate, (int, float)) and not isinstance(rate, bool) else ""
        text = f"{name} {value:g}{share}" if isinstance(value, float) else f"{name} {value}{share}"
        (outcomes if name in COUNT_ORDER[:4] else messages).append(text)
    return tuple(" · ".join(part[i : i + 4]) for part in (outcomes, messages) for i in range(0, len(part), 4))


# ---------------------------------------------------------------- Mermaid

_MERMAID_SHAPES = {
    "trigger": ('>"', '"]'),
    "action": ('["', '"]'),
    "wait": ('(["', '"])'),
    "wait_until": ('(["', '"])'),
    "if": ('{"', '"}'),
    "switch": ('{"', '"}'),
    "fork": ('[/"', '"\\]'),
    "go_to": ('("', '")'),
    "goal": ('{{"', '"}}'),
    "map_goal": ('{{"', '"}}'),
    "end": ('(("', '"))'),
    "exit": ('(("', '"))'),
    "map": ('[["', '"]]'),
}
_MERMAID_ARROWS = {"flow": "-->", "back": "-.->", "link": "-.->", "return": "-.->"}
_MERMAID_CLASSES = {
    "trigger": "fill:#fde2e2,stroke:#b42318,color:#1a1a1a",
    "action": "fill:#e6eefc,stroke:#2f5fb3,color:#1a1a1a",
    "branch": "fill:#fff1d6,stroke:#a15c00,color:#1a1a1a",
    "wait": "fill:#e4f4e4,stroke:#2e7d32,color:#1a1a1a",
    "goal": "fill:#f1e6fb,stroke:#6b3fa0,color:#1a1a1a",
    "finish": "fill:#eeeeee,stroke:#424242,color:#1a1a1a",
    "map": "fill:#ffffff,stroke:#424242,color:#1a1a1a,stroke-dasharray:4 3",
}
_CLASS_OF = {
    "trigger": "trigger",
    "action": "action",
    "if": "branch",
    "switch": "branch",
    "fork": "branch",
    "go_to": "branch",
    "wait": "wait",
    "wait_until": "wait",
    "goal": "goal",
    "map_goal": "goal",
    "end": "finish",
    "exit": "finish",
    "map": "map",
}


def _mermaid_text(text: str) -> str:
    """Text inside a quoted Mermaid label: quotes, markup and entity starts as entity codes."""
    text = _xml_safe(text)
    for char, code in (("#", "#35;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;"), ("&", "#amp;"), ("`", "#96;")):
        text = text.replace(char, code)
    return text.replace("\n", " ")


def to_mermaid(map_: Map, counts: Counts | None = None) -> str:
    """The map as a Mermaid flowchart (top-down), e.g. for a ```` ```mermaid ```` block in Markdown."""
    drawn = graph(map_, counts)
    title = json.dumps(_xml_safe(drawn.name), ensure_ascii=False)  # YAML reads JSON's double-quoted strings
    for char in "<>&`#":
        title = title.replace(char, f"\\u{ord(char):04x}")
    out = ["---", f"title: {title}", "---", "flowchart TD"]
    out.append(f"  %% map {drawn.map_id}: drawn by automaps graph from the map's YAML")
    for node in drawn.nodes:
        opening, closing = _MERMAID_SHAPES[node.kind]
        lines = [f"<b>{_mermaid_text(node.title)}</b>"] + [_mermaid_text(part) for part in node.parts]
        lines += [f"<i>{_mermaid_text(line)}</i>" for line in node.counts]
        out.append(f"  {node.key}{opening}{'<br/>'.join(lines)}{closing}")
    for edge in drawn.edges:
        label = f'|"{_mermaid_text(edge.label)}"|' if edge.label else ""
        out.append(f"  {edge.source} {_MERMAID_ARROWS[edge.style]}{label} {edge.target}")
    for name, style in _MERMAID_CLASSES.items():
        members = [node.key for node in drawn.nodes if _CLASS_OF[node.kind] == name]
        if members:
            out.append(f"  classDef {name} {style}")
            out.append(f"  class {','.join(members)} {name}")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- SVG

FONT = 12
CHAR = 7.0
"""Width of a character at ``FONT`` px in a sans-serif font, a little generous (node widths)."""
LINE = 16
PAD_X, PAD_Y = 12, 9
MARGIN = 24
X_SPACE, Y_SPACE = 28, 44
LANE = 18
"""Distance between the lanes of go-tos back, along the right margin."""

_FILLS = {
    "trigger": ("#fde2e2", "#b42318"),
    "action": ("#e6eefc", "#2f5fb3"),
    "branch": ("#fff1d6", "#a15c00"),
    "wait": ("#e4f4e4", "#2e7d32"),
    "goal": ("#f1e6fb", "#6b3fa0"),
    "finish": ("#eeeeee", "#424242"),
    "map": ("#ffffff", "#424242"),
}
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_safe(text: str) -> str:
    """Without the characters XML 1.0 cannot hold (control characters)."""
    return _XML_INVALID.sub("\ufffd", text)


def _esc(text: str) -> str:
    """Text for XML content and (double- or single-quoted) attributes."""
    text = _xml_safe(text)
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&#39;")):
        text = text.replace(char, entity)
    return text


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


@dataclass
class _Box:
    node: Node
    w: float
    h: float
    x: float = 0.0
    y: float = 0.0
    """Centre."""


def _size(node: Node) -> tuple[float, float]:
    lines = [node.title, *node.lines, *node.counts]
    width = max(len(line) for line in lines) * CHAR + 2 * PAD_X
    if node.kind in ("if", "switch", "goal", "map_goal"):
        width += 24  # the slanted sides
    return max(width, 90.0), len(lines) * LINE + 2 * PAD_Y


def _layout(drawn: Graph) -> tuple[dict[str, _Box], dict[int, list[tuple[float, float]]]]:
    """Box centres and the points of each forward edge (indexed as in ``drawn.edges``)."""
    from grandalf.graphs import Edge as GEdge
    from grandalf.graphs import Graph as GGraph
    from grandalf.graphs import Vertex
    from grandalf.layouts import SugiyamaLayout

    boxes = {node.key: _Box(node, *_size(node)) for node in drawn.nodes}
    laid = [node for node in drawn.nodes if node.kind != "map_goal"]
    vertices = {node.key: Vertex(node.key) for node in laid}
    for node in laid:
        view = type("View", (), {})()
        view.w, view.h, view.xy = boxes[node.key].w, boxes[node.key].h, (0.0, 0.0)
        vertices[node.key].view = view
    forward = {
        i: GEdge(vertices[e.source], vertices[e.target])
        for i, e in enumerate(drawn.edges)
        if e.style in ("flow", "link")
    }
    for edge in forward.values():
        edge.view = type("EdgeView", (), {"setpath": lambda self, points: setattr(self, "points", points)})()
    layout_graph = GGraph(list(vertices.values()), list(forward.values()))
    paths: dict[int, list[tuple[float, float]]] = {}
    left = float(MARGIN)
    top = float(MARGIN)
    goals = [node for node in drawn.nodes if node.kind == "map_goal"]
    for node in goals:  # the map's goals: a row above the triggers
        box = boxes[node.key]
        box.x, box.y = left + box.w / 2, top + box.h / 2
        left += box.w + X_SPACE
    if goals:
        top += max(boxes[node.key].h for node in goals) + Y_SPACE
        left = float(MARGIN)
    for component in layout_graph.C:
        sugiyama = SugiyamaLayout(component)
        sugiyama.xspace, sugiyama.yspace = X_SPACE, Y_SPACE
        roots = [v for v in component.sV if boxes[v.data].node.kind == "trigger"]
        sugiyama.init_all(roots=roots or None)
        sugiyama.draw()
        placed = list(component.sV)
        min_x = min(v.view.xy[0] - v.view.w / 2 for v in placed)
        min_y = min(v.view.xy[1] - v.view.h / 2 for v in placed)
        width = max(v.view.xy[0] + v.view.w / 2 for v in placed) - min_x
        for v in placed:
            box = boxes[v.data]
            box.x, box.y = v.view.xy[0] - min_x + left, v.view.xy[1] - min_y + top
        for i, edge in forward.items():
            if edge in component.sE:
                points = getattr(edge.view, "points", None) or [edge.v[0].view.xy, edge.v[1].view.xy]
                paths[i] = [(x - min_x + left, y - min_y + top) for x, y in points]
        left += width + 2 * X_SPACE
    return boxes, paths


def _shape(box: _Box, fill: str, stroke: str) -> str:
    x0, y0, x1, y1 = box.x - box.w / 2, box.y - box.h / 2, box.x + box.w / 2, box.y + box.h / 2
    style = f'fill="{fill}" stroke="{stroke}" stroke-width="1.5"'
    kind = box.node.kind
    if kind in ("if", "switch", "goal", "map_goal"):
        points = [(x0 + 12, y0), (x1 - 12, y0), (x1, box.y), (x1 - 12, y1), (x0 + 12, y1), (x0, box.y)]
        return f'<polygon points="{" ".join(f"{_num(x)},{_num(y)}" for x, y in points)}" {style}/>'
    if kind == "fork":
        points = [(x0 + 10, y0), (x1 + 0, y0), (x1 - 10, y1), (x0, y1)]
        return f'<polygon points="{" ".join(f"{_num(x)},{_num(y)}" for x, y in points)}" {style}/>'
    radius = box.h / 2 if kind in ("trigger", "wait", "wait_until", "end", "exit", "go_to") else 6
    dash = ' stroke-dasharray="5 3"' if kind == "map" else ""
    return (
        f'<rect x="{_num(x0)}" y="{_num(y0)}" width="{_num(box.w)}" height="{_num(box.h)}" '
        f'rx="{_num(min(radius, 18))}" {style}{dash}/>'
    )


def _text(box: _Box) -> list[str]:
    node = box.node
    lines = [(node.title, "title"), *((line, "") for line in node.lines), *((line, "count") for line in node.counts)]
    top = box.y - box.h / 2 + PAD_Y + FONT
    out = []
    for i, (line, role) in enumerate(lines):
        weight = ' font-weight="bold"' if role == "title" else ""
        italic = ' font-style="italic" fill="#3d3d3d"' if role == "count" else ""
        out.append(
            f'<text x="{_num(box.x)}" y="{_num(top + i * LINE)}" text-anchor="middle"{weight}{italic}>'
            f"{_esc(line)}</text>"
        )
    return out


def _clip(box: _Box, toward: tuple[float, float], leaving: bool) -> tuple[float, float]:
    """Where an edge meets a box: the middle of its bottom (leaving) or top (arriving), or its
    side for an edge that runs level."""
    x, y = toward
    if abs(y - box.y) < box.h / 2:
        return (box.x + box.w / 2 if x > box.x else box.x - box.w / 2), box.y
    return box.x, box.y + (box.h / 2 if leaving else -box.h / 2)


def to_svg(map_: Map, counts: Counts | None = None) -> str:
    """The map as a standalone SVG document (top-down), accessible: a ``<title>``, a ``<desc>``
    and one labelled group per node."""
    drawn = graph(map_, counts)
    boxes, paths = _layout(drawn)
    prefix = f"automaps-{drawn.map_id}"
    middle = (min(box.x - box.w / 2 for box in boxes.values()) + max(box.x + box.w / 2 for box in boxes.values())) / 2
    back = [i for i, edge in enumerate(drawn.edges) if edge.style == "back"]
    left_side = {i for i in back if boxes[drawn.edges[i].source].x < middle}  # the margin nearer the go_to
    shift = LANE * (len(left_side) + 1) + 20 if left_side else 0.0  # (room for the lanes and their labels)
    for box in boxes.values():
        box.x += shift
    paths = {i: [(x + shift, y) for x, y in points] for i, points in paths.items()}
    right = max(box.x + box.w / 2 for box in boxes.values())
    right_lanes = len(back) - len(left_side)
    width = right + MARGIN + LANE * right_lanes + (LANE if right_lanes else 0)
    height = max(box.y + box.h / 2 for box in boxes.values()) + MARGIN
    steps = [node for node in drawn.nodes if node.step is not None]
    description = drawn.description or f"The automation map {drawn.map_id}."
    entries = "; ".join(part for node in drawn.nodes if node.kind == "trigger" for part in node.parts)
    summary = f"{description} Contacts enter on: {entries}. {len(steps)} steps. "
    summary += ". ".join(node.words for node in steps) + "."
    out = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{_num(width)}" height="{_num(height)}" '
            f'viewBox="0 0 {_num(width)} {_num(height)}" role="group" '
            f'aria-labelledby="{prefix}-title" aria-describedby="{prefix}-desc" '
            f'font-family="Helvetica, Arial, sans-serif" font-size="{FONT}" fill="#1a1a1a">'
        ),
        f'<title id="{prefix}-title">{_esc(f"Map {drawn.map_id}: {drawn.name}")}</title>',
        f'<desc id="{prefix}-desc">{_esc(summary)}</desc>',
        "<defs>",
        (
            f'<marker id="{prefix}-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
            'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#424242"/></marker>'
        ),
        "</defs>",
        f'<rect width="{_num(width)}" height="{_num(height)}" fill="#ffffff"/>',
        '<g class="edges">',
    ]
    labels: list[str] = []
    lanes = {"right": right + LANE, "left": shift - LANE}
    for i, edge in enumerate(drawn.edges):
        source, target = boxes[edge.source], boxes[edge.target]
        dashed = ' stroke-dasharray="5 4"' if edge.style != "flow" else ""
        if i in paths:
            points = list(paths[i])
            points[0] = _clip(source, points[1] if len(points) > 1 else (target.x, target.y), True)
            points[-1] = _clip(target, points[-2] if len(points) > 1 else (source.x, source.y), False)
            d = "M" + " L".join(f"{_num(x)},{_num(y)}" for x, y in points)
            at = ((points[0][0] + points[1][0]) / 2, (points[0][1] + points[1][1]) / 2)
        elif edge.style == "return":  # from the other map back up to the step, beside the edge that went there
            shift = 22 if source.x >= target.x else -22
            x0, x1 = source.x + shift, target.x + shift
            y0, y1 = source.y - source.h / 2, target.y + target.h / 2
            d = f"M{_num(x0)},{_num(y0)} L{_num(x1)},{_num(y1)}"
            at = (x0 + (x1 - x0) / 4 + shift, y0 + (y1 - y0) / 4)
        else:  # back along the margin nearer the go_to, each in its own lane
            side = "left" if i in left_side else "right"
            lane, sign = lanes[side], (-1 if side == "left" else 1)
            x0, x1 = source.x + sign * source.w / 2, target.x + sign * target.w / 2
            d = f"M{_num(x0)},{_num(source.y)} H{_num(lane)} V{_num(target.y)} H{_num(x1)}"
            at = (lane, (source.y + target.y) / 2)
            lanes[side] += sign * LANE
        words = f"from {source.node.title} to {target.node.title}" + (f": {edge.label}" if edge.label else "")
        out.append(
            f'<path class="edge {edge.style}" d="{d}" fill="none" stroke="#424242" stroke-width="1.3"{dashed} '
            f'marker-end="url(#{prefix}-arrow)"><title>{_esc(words)}</title></path>'
        )
        if edge.label:
            w = len(edge.label) * CHAR * 0.9 + 8
            labels.append(
                f'<g class="edge-label" aria-hidden="true"><rect x="{_num(at[0] - w / 2)}" y="{_num(at[1] - 9)}" '
                f'width="{_num(w)}" height="16" rx="3" fill="#ffffff" fill-opacity="0.9"/>'
                f'<text x="{_num(at[0])}" y="{_num(at[1] + 3)}" text-anchor="middle" font-size="11">'
                f"{_esc(edge.label)}</text></g>"
            )
    out += ["</g>", '<g class="edge-labels">', *labels, "</g>", '<g class="nodes">']
    for node in drawn.nodes:
        box = boxes[node.key]
        fill, stroke = _FILLS[_CLASS_OF[node.kind]]
        step = f' data-step="{_esc(node.step)}"' if node.step is not None else ""
        classes = f"node {node.kind}" + (" step" if node.step is not None else "")
        out.append(f'<g class="{classes}" id="{prefix}-{node.key}"{step} role="img" aria-label="{_esc(node.words)}">')
        out.append(f"<title>{_esc(node.words)}</title>")
        out.append(_shape(box, fill, stroke))
        out += _text(box)
        out.append("</g>")
    out += ["</g>", "</svg>"]
    return "\n".join(out) + "\n"
