"""The map model: what users write in ``maps/*.yaml`` (see docs/map-format.md), validated.

Pydantic validates the shape of a map (:class:`Map`); :func:`check` then looks at the map as a
whole (step ids, go_to targets, steps that can never run) and returns :class:`Problem` s that
name the step they are about. :func:`walk` gives every step its position and its *label*: the
step's id, or for a step without id a name derived from its position ("3", "engaged.then.0").
Labels are the ``step_id`` recorded on contacts and the base of the compiled state names.

Adding a kind of step later means: a model here (with its ``kind``), an entry in
``STEP_MODELS``, and its compilation in the compiler. Keys users may expect but that are not
built yet are listed in the ``PLANNED_*`` sets so that they get a "not supported yet" error.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, TypeAlias, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from automaps.actions import ACTION_TYPES, camel, settings_model
from automaps.channels.limits import Sending
from automaps.conditions import Condition, leaves
from automaps.conditions import model as conditions
from automaps.maps.triggers import (  # noqa: F401  (re-exported)
    TRIGGER_MODELS,
    EventSpec,
    FormSubmittedTrigger,
    Trigger,
    TriggerKey,
)
from automaps.timing import (  # noqa: F401  (re-exported: the map model's value types)
    MAX_WAIT_DAYS,
    WEEKDAYS,
    Duration,
    PositiveDuration,
    SpreadWindow,
    Timezone,
    WaitSpec,
    When,
    suggest,
    timing_problem,
)

MAP_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,59}")
STEP_ID = re.compile(r"[a-z][a-z0-9-]{0,39}")
MAX_LABEL = 44
"""Longest step label: with its kind and the longest suffix the compiler adds (" case 49 check
failed") a state name stays within Step Functions' 80 characters."""

PLANNED_MAP_KEYS: frozenset[str] = frozenset()
PLANNED_STEP_TYPES: frozenset[str] = frozenset()

_STRICT = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

Path = tuple[str | int, ...]
"""A position in a map, e.g. ``("steps", 3, "then", 0)`` (shown as ``steps[3].then[0]``)."""


# ---------------------------------------------------------------- small value types


def _slug(what: str, example: str) -> AfterValidator:
    """Validates ids of maps and forms: lowercase letters, digits and '-', at most 60 characters."""

    def validate(value: str) -> str:
        if not MAP_ID.fullmatch(value):
            raise ValueError(
                f"{what} {value!r} must be lowercase letters, digits and '-', at most 60 characters, e.g. {example}"
            )
        return value

    return AfterValidator(validate)


def _step_id(value: str) -> str:
    if not STEP_ID.fullmatch(value):
        raise ValueError(
            f"step id {value!r} must start with a letter and use lowercase letters, digits and '-', "
            "at most 40 characters, e.g. welcome-email"
        )
    return value


MapId = Annotated[str, _slug("map id", "welcome-leads")]
FormId = Annotated[str, _slug("form id", "newsletter")]
StepId = Annotated[str, AfterValidator(_step_id)]
FieldName = Annotated[str, Field(min_length=1, max_length=100)]


# ---------------------------------------------------------------- steps


class StepBase(BaseModel):
    """What every step has: an optional ``id`` (needed only where something refers to it)."""

    model_config = _STRICT
    kind: ClassVar[str]

    id: StepId | None = None

    def branches(self) -> list[tuple[Path, list[Step]]]:
        """The step lists nested in this step, each with its path relative to the step."""
        return []


class ActionStep(StepBase):
    """Runs one action; subclasses (one per action type) hold the settings under the type's name."""

    when: When | None = None
    only_if: Condition | None = None

    @property
    def action(self) -> str:
        return self.kind

    @property
    def settings(self) -> BaseModel:
        return getattr(self, self.kind)


def _action_step_model(name: str) -> type[ActionStep]:
    namespace = {
        "__annotations__": {name: settings_model(name)},
        "__module__": __name__,
        "__doc__": f"A ``{name}`` action step.",
        "kind": name,
    }
    return type(f"{camel(name)}Step", (ActionStep,), namespace)


ACTION_STEPS: dict[str, type[ActionStep]] = {name: _action_step_model(name) for name in ACTION_TYPES}


class WaitStep(StepBase):
    kind = "wait"
    wait: WaitSpec


class IfStep(StepBase):
    kind = "if"
    if_: Condition = Field(alias="if")
    then: StepList
    else_: StepList | None = Field(default=None, alias="else")

    def branches(self) -> list[tuple[Path, list[Step]]]:
        found: list[tuple[Path, list[Step]]] = [(("then",), self.then)]
        return found + ([(("else",), self.else_)] if self.else_ else [])


class Case(BaseModel):
    """One case of a switch: the steps under ``then`` run when ``when`` holds."""

    model_config = _STRICT
    when: Condition
    then: StepList


class SwitchStep(StepBase):
    kind = "switch"
    switch: list[Case] = Field(min_length=1, max_length=50)
    default: StepList | None = None

    def branches(self) -> list[tuple[Path, list[Step]]]:
        cases = [(("switch", i, "then"), case.then) for i, case in enumerate(self.switch)]
        return cases + ([(("default",), self.default)] if self.default else [])


class GoToStep(StepBase):
    kind = "go_to"
    go_to: StepId


class ForkStep(StepBase):
    kind = "fork"
    fork: list[StepList] = Field(min_length=2, max_length=10)

    def branches(self) -> list[tuple[Path, list[Step]]]:
        return [(("fork", i), branch) for i, branch in enumerate(self.fork)]


class EndOptions(BaseModel):
    """``end: {}``; room for options such as a reason later."""

    model_config = _STRICT


class EndStep(StepBase):
    kind = "end"
    end: EndOptions = EndOptions()


class Awaited(BaseModel):
    """What a ``goal`` or ``wait_until`` step waits for: a ``condition`` on the contact, or an
    ``event`` (a history kind with ``where`` on its attributes; merge fields such as
    ``{{ event.cart_id }}`` read the event that started the map), for at most ``timeout``; then
    ``on_timeout`` decides: ``continue`` (the next step) or ``exit`` (leave the map)."""

    model_config = _STRICT
    condition: Condition | None = None
    event: EventSpec | None = None
    timeout: PositiveDuration | None = None
    on_timeout: Literal["continue", "exit"] = "continue"

    @model_validator(mode="after")
    def _one_thing(self) -> Awaited:
        if (self.condition is None) == (self.event is None):
            raise ValueError(
                "give either condition (e.g. {has_tag: customer}) or event (e.g. {kind: purchase.made}), not both"
            )
        if self.timeout is not None and self.timeout.total_seconds > MAX_WAIT_DAYS * 86400:
            raise ValueError(f"timeout can be at most {MAX_WAIT_DAYS} days (a run of a map lasts at most a year)")
        return self


class GoalStep(StepBase):
    """``goal: {...}``: a contact above it who achieves it jumps to it (skipping what lay
    between); one who reaches it unachieved waits there (until ``timeout``, if given)."""

    kind = "goal"
    goal: Awaited


class WaitUntilStep(StepBase):
    """``wait_until: {event | condition, timeout, on_timeout}``: wait for that, at most ``timeout``."""

    kind = "wait_until"
    wait_until: Awaited

    @model_validator(mode="after")
    def _timeout_needed(self) -> WaitUntilStep:
        if self.wait_until.timeout is None:
            raise ValueError("wait_until needs a timeout (e.g. timeout: {days: 3}); a goal step waits without one")
        return self


STEP_MODELS: dict[str, type[StepBase]] = {
    **ACTION_STEPS,
    **{
        model.kind: model
        for model in (WaitStep, IfStep, SwitchStep, GoToStep, ForkStep, EndStep, GoalStep, WaitUntilStep)
    },
}
STEP_TYPES = tuple(STEP_MODELS)


def _keys(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def _step_shape(value: Any) -> Any:
    """Find the step's type among its keys, with an error that says what to write instead."""
    if isinstance(value, StepBase):
        return value
    if value == "end":
        return {"end": {}}
    if not isinstance(value, dict):
        raise ValueError(
            f"a step is a mapping such as {{send_email: {{template: welcome}}}} or the word end; got {value!r}"
        )
    kinds = [key for key in value if key in STEP_MODELS]
    if len(kinds) > 1:
        raise ValueError(
            f"a step does one thing, but this one has {' and '.join(kinds)}; split it into {len(kinds)} steps"
        )
    if not kinds:
        raise ValueError(_no_step_type(value))
    # Unknown keys beside the type are left to the model (extra="forbid"), which reports each of
    # them with the step's other problems (automaps.maps.loader words them: "in a send_sms step").
    return {**value, "end": {}} if kinds == ["end"] and value["end"] is None else value


def _no_step_type(value: dict[str, Any]) -> str:
    unknown = [str(key) for key in value if key not in ("id", "when", "only_if", "then", "else", "default")]
    planned = [key for key in unknown if key in PLANNED_STEP_TYPES]
    if planned:
        return f"step type {planned[0]!r} is not supported yet; use one of: {', '.join(STEP_TYPES)}"
    if unknown:
        return f"unknown step type {unknown[0]!r}{suggest(unknown[0], STEP_TYPES)}; use one of: {', '.join(STEP_TYPES)}"
    return f"this step has no type; give it one of: {', '.join(STEP_TYPES)}"


def _step_kind(value: Any) -> str | None:
    if isinstance(value, StepBase):
        return value.kind
    kinds = [key for key in value if key in STEP_MODELS] if isinstance(value, dict) else []
    return kinds[0] if len(kinds) == 1 else None


if TYPE_CHECKING:  # the union is built from STEP_MODELS at run time; to the type checker it is a step
    Step: TypeAlias = StepBase
else:
    Step = Annotated[
        Union[tuple(Annotated[model, Tag(kind)] for kind, model in STEP_MODELS.items())],  # noqa: UP007
        Discriminator(_step_kind),
        BeforeValidator(_step_shape),
    ]
StepList = Annotated[list[Step], Field(min_length=1)]

for _model in (IfStep, Case, SwitchStep, ForkStep):
    _model.model_rebuild()


# ---------------------------------------------------------------- triggers and the map


class Entry(BaseModel):
    """Who may enter again: ``never``, ``after_exit`` (default) or ``always``, at most once per ``min_interval``."""

    model_config = _STRICT
    reenter: Literal["never", "after_exit", "always"] = "after_exit"
    min_interval: PositiveDuration | None = None

    @model_validator(mode="after")
    def _interval_needs_reentry(self) -> Entry:
        if self.min_interval and self.reenter == "never":
            raise ValueError("min_interval spaces re-entries, but reenter is never; remove one of them")
        return self


class OnError(BaseModel):
    """What happens when the moment of a ``wait`` (or of an action's ``when``) cannot be worked
    out, after the Task's retries: ``exit`` (default) leaves the map with reason ``wait_failed``,
    so no step after the wait ever runs early; ``continue`` records ``step.failed`` and goes on
    at once (a ``wait`` ends, an action with ``when`` is skipped)."""

    model_config = _STRICT
    wait: Literal["exit", "continue"] = "exit"


class WaitOptions(BaseModel):
    """How a map's contacts wait: a wait (or an action's ``when``) longer than ``hand_off_after``
    (default 3 days; ``null``: never) ends the run and hands the contact to a one-time EventBridge
    Scheduler schedule that resumes them at its end, so that open executions count only contacts
    whose next moment is near (automaps.journeys.handoff)."""

    model_config = _STRICT
    hand_off_after: PositiveDuration | None = Field(default_factory=lambda: Duration(days=3))
    spread: SpreadWindow | None = Field(default=None, exclude_if=lambda value: value is None)
    """The window a moment many contacts share ("at 09:00", a window's opening, a date) is spread
    over: each contact wakes later by its own offset in ``[0, spread)`` (automaps.timing.spread);
    a step's own ``spread`` overrides it; None: the stack's (``WaitSpreadSeconds``, default 0)."""


class MapGoal(BaseModel):
    """A goal of the whole map: ``goals: [{id: bought, event: {kind: purchase.made}}]``; the
    moment a contact anywhere in the map achieves it, they leave the map (``then: exit``)."""

    model_config = _STRICT
    id: StepId
    condition: Condition | None = None
    event: EventSpec | None = None
    then: Literal["exit"] = "exit"

    @model_validator(mode="after")
    def _one_thing(self) -> MapGoal:
        if (self.condition is None) == (self.event is None):
            raise ValueError("a goal has either condition or event")
        return self


class SequenceOptions(BaseModel):
    """Ontraport's legacy sequences: ``step`` sequences (steps on delays) return a contact added
    with ``return: true`` after the last step when ``unsubscribe_after_last_step`` (default);
    ``date`` sequences (steps on dates) never unsubscribe: they return only when removed."""

    model_config = _STRICT
    type: Literal["step", "date"] = "step"
    unsubscribe_after_last_step: bool = True


class Map(BaseModel):
    """One automation map (one YAML file, one state machine)."""

    model_config = _STRICT

    id: MapId
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    kind: Literal["map", "sequence", "follow_up"] = "map"
    """``sequence``: a legacy sequence (add_to_sequence ...); ``follow_up``: a Sales Jet follow-up
    (start_follow_up / stop_follow_up). Both are maps; they need no trigger of their own."""
    sequence: SequenceOptions | None = None
    triggers: list[Trigger] = Field(default_factory=list)
    goals: list[MapGoal] = Field(default_factory=list, max_length=20)
    entry: Entry = Entry()
    waits: WaitOptions = WaitOptions()
    missing_fields: Literal["skip", "fail"] = "skip"
    on_error: OnError = OnError()
    sending: Sending | None = Field(default=None, exclude_if=lambda value: value is None)
    """Quiet hours and frequency caps of the map's send_email / send_sms (automaps.channels.limits)."""
    timezone: Timezone = "UTC"
    steps: StepList

    @model_validator(mode="after")
    def _kind_rules(self) -> Map:
        if self.kind == "map" and not self.triggers:
            raise ValueError(
                "a map needs at least one trigger (e.g. triggers: [{form_submitted: {form: newsletter}}]); "
                "only a sequence or follow_up (kind:) is entered from other maps alone"
            )
        if self.sequence is not None and self.kind != "sequence":
            raise ValueError("sequence options belong to a map of kind: sequence")
        dated = [t.kind for t in self.triggers if getattr(t, "reads_contact_timezone", False)]
        if dated and not self.fallback_timezone:
            raise ValueError(
                f"the {dated[0]} trigger starts at a time of day in the contact's timezone, but this map has no "
                "timezone for contacts whose own is unknown; add one at the top of the map (e.g. timezone: "
                "America/New_York), or give the trigger a fixed timezone (e.g. timezone: Europe/Paris)"
            )
        if self.sending is not None and self.sending.reads_contact_timezone and not self.fallback_timezone:
            raise ValueError(
                "sending.quiet_hours are read in the contact's timezone, but this map has no timezone for "
                "contacts whose own is unknown; add one at the top of the map (e.g. timezone: America/New_York), "
                "or give the quiet hours a fixed timezone (e.g. timezone: Europe/Paris)"
            )
        return self

    def entered_by(self) -> list[Any]:
        """The triggers that start the map: its own, plus, for a sequence or follow-up, being
        added by another map (``added_to_automation: {}``) even when it names no trigger."""
        triggers = list(self.triggers)
        if self.kind != "map" and not any(t.kind == "added_to_automation" for t in triggers):
            triggers.append(TRIGGER_MODELS["added_to_automation"].model_validate({"added_to_automation": {}}))
        return triggers

    @property
    def stays_after_last_step(self) -> bool:
        """A sequence whose contacts stay subscribed after its last step (until removed)."""
        options = self.sequence or SequenceOptions()
        return self.kind == "sequence" and (options.type == "date" or not options.unsubscribe_after_last_step)

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("name must not be blank; say what the map does, e.g. Welcome new leads")
        return value

    @property
    def fallback_timezone(self) -> str | None:
        """The timezone the map sets for contacts whose own is unknown; None when it sets none
        (waits and ``when`` then never read times of day in UTC by default)."""
        return self.timezone if "timezone" in self.model_fields_set else None

    def trigger_keys(self) -> list[TriggerKey]:
        """The (type, key) pairs that enroll contacts, e.g. ``("form_submitted", "newsletter")``."""
        return [TriggerKey(trigger.kind, trigger.key) for trigger in self.triggers]

    def content_hash(self) -> str:
        """A short hash of the map's content: the map's version. Formatting and comments in the
        YAML do not change it; any change of meaning does."""
        content = json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(content.encode()).hexdigest()[:12]


MAP_KEYS = tuple(_keys(Map))


# ---------------------------------------------------------------- walking the steps


@dataclass(frozen=True)
class StepRef:
    """A step with where it stands in the map."""

    step: StepBase
    path: Path
    """Position in the map, e.g. ``("steps", 3, "then", 0)``."""
    label: str
    """The step's id, or a name derived from its position relative to the closest enclosing step
    that has an id: ``"3"``, ``"engaged.then.0"``."""
    order: int
    """Position in reading order (pre-order): a go_to to an order <= its own is a loop."""
    branch: Path
    """Path of the fork branch the step is in, ``()`` outside forks."""


def walk(map_: Map) -> list[StepRef]:
    """Every step of the map, in reading order."""
    refs: list[StepRef] = []
    _walk(map_.steps, ("steps",), ("", 1), (), refs)
    return refs


def _walk(steps: list[StepBase], list_path: Path, anchor: tuple[str, int], branch: Path, refs: list[StepRef]) -> None:
    anchor_label, anchor_depth = anchor
    for i, step in enumerate(steps):
        path = (*list_path, i)
        relative = ".".join(str(part) for part in path[anchor_depth:])
        label = step.id or (f"{anchor_label}.{relative}" if anchor_label else relative)
        refs.append(StepRef(step, path, label, len(refs), branch))
        inner_anchor = (step.id, len(path)) if step.id else anchor
        for suffix, nested in step.branches():
            nested_branch = (*path, *suffix) if isinstance(step, ForkStep) else branch
            _walk(nested, (*path, *suffix), inner_anchor, nested_branch, refs)


def format_path(path: Path) -> str:
    """``("steps", 3, "if", "any", 0)`` -> ``steps[3].if.any[0]``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


# ---------------------------------------------------------------- checks of the whole map


@dataclass(frozen=True)
class Problem:
    """Something to fix in a map: where (``path``, the step's ``step_id`` if it has one) and what."""

    path: Path
    step_id: str | None
    message: str


def check(map_: Map) -> list[Problem]:
    """Problems that only show when looking at the whole map (empty when the map is sound)."""
    refs = walk(map_)
    by_id: dict[str, StepRef] = {}
    problems: list[Problem] = []
    for ref in refs:
        problems += _step_problems(ref, by_id) + _timing_problems(ref, map_) + _fork_problems(ref)
        if ref.step.id and ref.step.id not in by_id:
            by_id[ref.step.id] = ref
    emails = sorted(i for i, r in by_id.items() if isinstance(r.step, ActionStep) and r.step.action == "send_email")
    for ref in refs:
        if isinstance(ref.step, GoToStep):
            problems += _go_to_problems(ref, by_id)
        problems += _condition_problems(ref, emails, map_)
    targets = {ref.step.go_to for ref in refs if isinstance(ref.step, GoToStep)}
    _flow(map_.steps, ("steps",), targets, problems)
    return problems + _goal_problems(map_, by_id)


def _returns(step: StepBase) -> bool:
    """Whether the step hands the contact to another map and waits for them to come back
    (add_to_automation / add_to_sequence with ``return: true``, the default)."""
    return (
        isinstance(step, ActionStep)
        and step.action in ("add_to_automation", "add_to_sequence")
        and bool(getattr(step.settings, "return_", False))
    )


def _fork_problems(ref: StepRef) -> list[Problem]:
    """Steps that move the whole contact cannot be part of a fork branch (a branch is part of a run)."""
    step = ref.step
    if not ref.branch:
        return []
    if isinstance(step, GoalStep):
        return [
            _problem(
                ref,
                "goals cannot be inside a fork branch: reaching a goal moves the whole contact, and a branch is "
                "only part of their run; put the goal before or after the fork",
            )
        ]
    if isinstance(step, WaitUntilStep):
        return [
            _problem(
                ref,
                "wait_until cannot be inside a fork branch: the event that ends it moves the whole contact, and a "
                "branch is only part of their run; put the wait_until before or after the fork (a wait: with a "
                "delay or date is fine in a branch)",
            )
        ]
    if _returns(step):
        action = step.kind
        return [
            _problem(
                ref,
                f"{action} with return: true (the default) cannot be inside a fork branch: the contact would wait "
                "for the other map while the fork waits for the branch; to go on at once as well, keep the fork "
                f"before it and write return: false in the branch, or put the {action} after the fork",
            )
        ]
    return []


def _goal_problems(map_: Map, by_id: dict[str, StepRef]) -> list[Problem]:
    """The map's goals: one per id, and not the id of a step (a goal is named by its id alone)."""
    problems, seen = [], dict[str, int]()
    for i, goal in enumerate(map_.goals):
        if goal.id in seen:
            problems.append(
                Problem(
                    ("goals", i),
                    None,
                    f"goal id {goal.id!r} is already used by goals[{seen[goal.id]}]; give each goal its own id",
                )
            )
            continue
        seen[goal.id] = i
        if goal.id in by_id:
            problems.append(
                Problem(
                    ("goals", i),
                    None,
                    f"goal id {goal.id!r} is also the id of step {format_path(by_id[goal.id].path)}; "
                    "give the goal its own id",
                )
            )
    return problems


def _problem(ref: StepRef, message: str) -> Problem:
    return Problem(ref.path, ref.step.id, message)


def _timing_problems(ref: StepRef, map_: Map) -> list[Problem]:
    """A wait's or an action's ``when``: a timezone to read times of day in; no exit from a fork."""
    step = ref.step
    key, spec = ("wait", step.wait) if isinstance(step, WaitStep) else ("when", getattr(step, "when", None))
    if spec is None:
        return []
    problems = [
        Problem((*ref.path, key), step.id, problem)
        for problem in [timing_problem(spec, map_.fallback_timezone)]
        if problem
    ]
    if key == "wait" and spec.skips_if_past and ref.branch:
        problems.append(
            Problem(
                (*ref.path, key),
                step.id,
                "if_past: skip on a wait leaves the map, which a step in a "
                "fork branch cannot do; move the wait before the fork, or put when: {..., if_past: "
                "skip} on the actions of the branch",
            )
        )
    return problems


def _step_problems(ref: StepRef, by_id: dict[str, StepRef]) -> list[Problem]:
    step, problems = ref.step, []
    if step.id in by_id:
        first = format_path(by_id[step.id].path)
        problems.append(_problem(ref, f"step id {step.id!r} is already used by {first}; give each step its own id"))
    if len(ref.label) > MAX_LABEL:
        problems.append(
            _problem(
                ref,
                f"the name derived from this step's position ({ref.label!r}) is too long; "
                "give this step, or a step around it, an id",
            )
        )
    if isinstance(step, EndStep) and ref.branch:
        problems.append(
            _problem(
                ref,
                "end cannot be used inside a fork branch (a branch ends when its steps "
                "run out); put end after the fork",
            )
        )
    if isinstance(step, ActionStep):
        reserved = _reserved_keys(step.settings.model_dump(mode="json"))
        if reserved:
            problems.append(
                _problem(
                    ref, f"key {reserved!r} cannot end in '.$' (Step Functions reads such keys as paths); rename it"
                )
            )
    return problems


def _conditions_of(step: StepBase) -> list[tuple[Path, Any]]:
    if isinstance(step, IfStep):
        return [(("if",), step.if_)]
    if isinstance(step, SwitchStep):
        return [(("switch", i, "when"), case.when) for i, case in enumerate(step.switch)]
    if isinstance(step, ActionStep) and step.only_if is not None:
        return [(("only_if",), step.only_if)]
    return []


def _condition_problems(ref: StepRef, emails: list[str], map_: Map) -> list[Problem]:
    """Emails a condition names must be send_email steps of this map (unless it names another
    map); calendar dates and times of day read in the contact's timezone need the map's."""
    from automaps.conditions.words import needs_timezone

    problems = []
    for where, condition in _conditions_of(ref.step):
        if needs_timezone(condition) and not map_.fallback_timezone:
            problems.append(
                Problem(
                    (*ref.path, *where),
                    ref.step.id,
                    "this condition reads dates or times of day in the contact's timezone, but this "
                    "map has no timezone for contacts whose own is unknown; add one at the top of the "
                    "map (e.g. timezone: America/New_York), or give the condition a fixed timezone "
                    "(e.g. timezone: Europe/Paris)",
                )
            )
        for leaf in leaves(condition):
            email = (
                leaf.opened_email
                if isinstance(leaf, conditions.OpenedEmail)
                else leaf.clicked_link
                if isinstance(leaf, conditions.ClickedLink)
                else None
            )
            if email is None or email.email is None or email.map not in (None, map_.id):
                continue
            if email.email not in emails:
                options = (
                    f"; send_email steps with an id: {', '.join(emails)}"
                    if emails
                    else "; give the send_email step an id and name it here"
                )
                problems.append(
                    Problem(
                        (*ref.path, *where),
                        ref.step.id,
                        f"{conditions.kind_of(leaf)} names email {email.email!r}, which is not a "
                        f"send_email step of this map{suggest(email.email, emails)}{options}",
                    )
                )
    return problems


def _reserved_keys(value: Any) -> str | None:
    if isinstance(value, dict):
        for key, item in value.items():
            if str(key).endswith(".$"):
                return str(key)
            found = _reserved_keys(item)
            if found:
                return found
    if isinstance(value, list):
        return next(filter(None, map(_reserved_keys, value)), None)
    return None


def _go_to_problems(ref: StepRef, by_id: dict[str, StepRef]) -> list[Problem]:
    assert isinstance(ref.step, GoToStep)
    target_id = ref.step.go_to
    target = by_id.get(target_id)
    if target is None:
        known = sorted(by_id)
        options = f"; step ids in this map: {', '.join(known)}" if known else "; no step in this map has an id yet"
        return [_problem(ref, f"go_to {target_id!r}: no step has this id{suggest(target_id, known)}{options}")]
    if target.branch != ref.branch:
        return [
            _problem(
                ref,
                f"go_to {target_id!r} jumps into or out of a fork branch; a go_to can only reach "
                "steps in its own branch (or, outside forks, steps outside forks)",
            )
        ]
    if ref.branch and target.order <= ref.order:
        return [
            _problem(
                ref,
                f"go_to {target_id!r} loops inside a fork branch, which is not supported yet; "
                "move the loop out of the fork",
            )
        ]
    return []


def _flow(steps: list[StepBase], list_path: Path, targets: set[str], problems: list[Problem]) -> bool:
    """Report steps that can never run; return whether the list can run past its last step."""
    live = True
    for i, step in enumerate(steps):
        path = (*list_path, i)
        if not live and step.id not in targets:
            problems.append(
                Problem(
                    path,
                    step.id,
                    "this step can never run: the step before it ends the map or "
                    "jumps away; remove it, or give it an id and go_to it",
                )
            )
            continue
        live = _falls_through(step, path, targets, problems)
    return live


def _falls_through(step: StepBase, path: Path, targets: set[str], problems: list[Problem]) -> bool:
    if isinstance(step, (EndStep, GoToStep)):
        return False
    nested = [_flow(steps, (*path, *suffix), targets, problems) for suffix, steps in step.branches()]
    if isinstance(step, IfStep):
        return nested[0] or step.else_ is None or nested[1]
    if isinstance(step, SwitchStep):
        return any(nested) or step.default is None
    return True
