"""Compiling a map to an Amazon States Language definition: pure and deterministic.

No AWS, no files, no clock: the same map gives the same dict, key for key (dicts are built in a
fixed order), so ``to_json(compile_map(m))`` is byte-identical from run to run. JSONPath only.

What each step becomes (``M`` is the step's main state name: its id, or "<label> <kind>" such as
"3 send_email" or "engaged.else.0 send_email" for a step without id):

=============  ==============================================================================
action         [Wait "M when" (Seconds / Timestamp)] -> Task "M" (the action's function); a
               ``when`` that depends on the contact or the clock: Task "M when resolve"
               (resolve_wait -> ``$.timers.<key>``) -> [Choice "M when past": a missed moment
               skips the action] -> Wait "M when" (TimestampPath) -> Task "M"
wait           Wait "M" (Seconds or Timestamp), or, when it depends on the contact or the
               clock, Task "M resolve" (resolve_wait -> ``$.timers.<key>``) -> [Choice
               "M past" -> Task "M exit" (reason ``wait_past``), with ``if_past: skip``]
               -> Wait "M" (TimestampPath)
               A resolve Task that still fails after its retries: Task "<name> wait failed" (exit_map,
               reason ``wait_failed``, with the error) -> Succeed "Exited", so nothing after the
               wait runs early; inside a fork branch: record_failure -> Fail "<name> wait failed"
               (``Automaps.WaitFailed``), which the Parallel turns into that exit. With the
               map's ``on_error: {wait: continue}``: record_failure, then on at once (a ``when``
               skips its action)
if             Task "M check" (check_condition -> ``$.checks.<key>.answer``) -> Choice "M"
switch         Task "M check" (check_condition decides every case, first match wins, in one
               call -> ``$.checks.<key>.answer.case``) -> Choice "M" (one rule per case)
action + if    an action directly followed by an if or switch decides it in the same
               invocation (``then_check`` in its payload; its answer goes to ``$.checks.<key>``)
               and goes straight to Choice "M"; Task "M check" stays for the paths that
               reach the if otherwise (the action failed, a go_to, a skipped ``when``)
action + wait  a fixed delay after an action: the action records the position (``then_wait``),
               the wait is a bare Wait; a wait resolved at run time (or the next action's
               ``when``) after an action (outside forks): the action works it out
               (``then_resolve``; ``$.timers.<key>`` from ``$.Payload.wait``) and goes straight
               to [Choice "M past"] Wait "M"; Task "M resolve" stays for the other ways in, and
               for an action that could not (Catch ``Unfolded``)
action + exit  the map's last step, or an action before ``end`` (outside forks): the action
               exits the contact (``then_exit``) and its Task ends the run (``End``); "Completed"
               (or the end's Task) stays for the other ways in, and for Catch ``Unfolded``
go_to          Pass "M" -> the target; a go_to backwards (a loop) counts its rounds in
               ``$.loops.<key>``; after :func:`loop_bound` rounds Choice "M limit" goes to
               Task "M continues" (exit_map with ``continue_at``: a new run at "M", this one ends)
fork           Parallel "M"; each branch ends in Succeed "M branch i done"
end            Task "M" (exit_map, reason ``end``) -> Succeed "Exited"
(last step)    Task "Completed" (exit_map, reason ``completed``) -> Succeed "Exited"
=============  ==============================================================================

Every Task calls a Lambda through ``arn:aws:states:::lambda:invoke`` with the Retry of
docs/architecture.md and a Catch to "<task> failed" (record_failure), which moves on to what
would have come after the step (a wait's resolve Task: see above). Action results are discarded (``ResultPath: null``).
"""

from __future__ import annotations

import json
import re
from typing import Any

from automaps.actions import function_arn_substitution
from automaps.clock import iso
from automaps.conditions import dump
from automaps.conditions.words import describe as describe_condition
from automaps.conditions.words import needs_timezone
from automaps.maps.model import (
    ActionStep,
    Awaited,
    EndStep,
    ForkStep,
    GoalStep,
    GoToStep,
    IfStep,
    Map,
    Path,
    StepRef,
    SwitchStep,
    WaitSpec,
    WaitStep,
    WaitUntilStep,
    When,
    check,
    format_path,
    walk,
)
from automaps.timing import duration_words

TASK_RESOURCE = "arn:aws:states:::lambda:invoke"
RETRY_ERRORS = (
    "TransientError",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.ClientExecutionTimeoutException",
)
WAIT_FAILED = "Automaps.WaitFailed"
"""The error a fork branch fails with when a wait in it cannot be resolved (``on_error: {wait:
exit}``): the Parallel catches it and the contact leaves the map with reason ``wait_failed``."""
EXITED = "Exited"
COMPLETED = "Completed"
LOOP_COUNTERS = "Loop counters"
LEFT = "Left"
RESUME_CHECK = "Resume?"
RESUME = "Resume"
SUPERSEDED = "Superseded"
"""The error a task raises when its run no longer holds the contact (automaps.errors.Superseded)."""
DEFERRED = "Deferred"
"""The error a send raises when it is held back until a later moment (automaps.errors.Deferred)."""
UNFOLDED = "Unfolded"
"""The error an action raises when it has done its step but could not decide what the compiler
folded into it (``then_resolve``: the next wait's moment; ``then_exit``: the exit): the Task's
Catch goes to the state that decides it on its own (the resolve Task, "Completed")."""
RETURNING_ACTIONS = frozenset({"add_to_automation", "add_to_sequence"})
"""Actions that can make the contact wait for the other map to end (``return: true``)."""
RESUMABLE_TYPES = ("Task", "Wait", "Pass", "Parallel")
LIMITED_ACTIONS = frozenset({"send_email", "send_sms"})
"""Actions the map's ``sending`` limits apply to (automaps.channels.limits)."""

HISTORY_EVENTS_LIMIT = 25_000
HISTORY_EVENTS_RESERVE = 1_000
DEFERRAL_SECONDS = 3600
"""The most the send rate holds a send back, as loop bounds count it (the rate's slots are seconds
away; an hour is a backlog no map should plan on)."""
EXECUTION_SECONDS_BUDGET = 330 * 86400
"""What the waits of one execution's loop rounds may add up to: a month under Step Functions'
one-year limit of a Standard execution."""
EVENTS_PER_STATE = {"Task": 8, "Parallel": 4}
"""History events one visit of a state costs: a Task 5 (entered, scheduled, started, succeeded,
exited) plus 3 for one retry; a Parallel 4 plus its branches; any other state 2."""


def compile_map(map_: Map) -> dict[str, Any]:
    """The ASL definition of ``map_`` (a map that :func:`automaps.maps.model.check` accepts)."""
    problems = check(map_)
    if problems:
        details = "; ".join(f"{format_path(p.path)}: {p.message}" for p in problems)
        raise ValueError(f"map {map_.id!r} cannot be compiled: {details}")
    draft = _Compiler(map_, loop_bound=1).build()
    loops = len(draft["States"].get(LOOP_COUNTERS, {}).get("Result", {}))
    ceiling = map_.waits.hand_off_after.total_seconds if map_.waits.hand_off_after else None
    held = ceiling if map_.sending is not None else DEFERRAL_SECONDS  # a cap may hold a send for days
    asl = _Compiler(map_, loop_bound(draft, loops, ceiling, held)).build() if loops else draft
    return _stamp_version(asl, map_.content_hash())


def version_of(definition: str | dict[str, Any]) -> str | None:
    """The map version a compiled definition runs (what :func:`_stamp_version` put in it), or
    None for one compiled before versions were stamped."""
    text = definition if isinstance(definition, str) else json.dumps(definition)
    match = re.search(r'"map_version":\s*"([0-9a-f]+)"', text)
    return match.group(1) if match else None


def _stamp_version(node: Any, version: str) -> Any:
    """Every task that records the contact's position records the map's version with it
    (``position.map_version``: the map's content hash), so the position of record says which
    version of the map a contact is on (live edits: automaps publish, automaps diff)."""
    if isinstance(node, dict):
        payload = node.get("Parameters", {}).get("Payload") if isinstance(node.get("Parameters"), dict) else None
        if isinstance(payload, dict) and "execution_id.$" in payload:
            payload["position"] = {**payload.get("position", {}), "map_version": version}
        for value in node.values():
            _stamp_version(value, version)
    elif isinstance(node, list):
        for value in node:
            _stamp_version(value, version)
    return node


def journey_facts(map_: Map) -> dict[str, Any]:
    """What the map registry keeps for the router and the moves (enrollment.MapRecord): the map's
    kind, its goal steps (label, reading order, the state after it, what achieves it), its own
    goals, whether it has goal or wait_until steps, each step's reading order, the map's fallback
    timezone and the states a resumed run can enter."""
    compiler = _Compiler(map_, loop_bound=1)
    built = compiler.build()
    refs = walk(map_)
    map_goals = []
    for goal in map_.goals:
        spec: dict[str, Any] = {"id": goal.id}
        if goal.condition is not None:
            spec["condition"] = dump(goal.condition)
        else:
            spec["event"] = goal.event.model_dump(mode="json")  # type: ignore[union-attr]
        map_goals.append(spec)
    awaited = [
        ref.step.goal if isinstance(ref.step, GoalStep) else ref.step.wait_until
        for ref in refs
        if isinstance(ref.step, (GoalStep, WaitUntilStep))
    ]
    return {
        "kind": map_.kind,
        "goals": compiler.goals,
        "map_goals": map_goals,
        "awaits": bool(awaited),
        "awaited_kinds": sorted(
            {spec.event.kind for spec in awaited if spec.event is not None}
            | {goal.event.kind for goal in map_.goals if goal.event is not None}
        ),
        "awaits_conditions": any(spec.condition is not None for spec in awaited)
        or any(goal.condition is not None for goal in map_.goals),
        "order": {ref.label: ref.order for ref in refs},
        "timezone": map_.fallback_timezone,
        "resumable": [c["StringEquals"] for c in built["States"][RESUME]["Choices"]],
    }


def loop_bound(
    asl: dict[str, Any], loops: int, wait_ceiling: int | None = None, deferral_ceiling: int | None = None
) -> int:
    """How many rounds each of ``loops`` go_to loops may run in one execution (then the contact
    continues in a new run, where the count starts again).

    Between two jumps back, an execution visits each state at most once, so with every loop at
    its bound the history holds at most (1 + loops * bound) passes over all the states. The
    bound keeps that under the 25,000-event limit, less a reserve for the execution's own events
    and extra retries, and the time those passes can wait under :data:`EXECUTION_SECONDS_BUDGET`:
    each Wait state waits at most its fixed seconds, and a computed one at most ``wait_ceiling``
    (the map's ``waits.hand_off_after``: a longer wait ends the run), else a year; a held-back
    send's wait ("<send> deferred until") at most ``deferral_ceiling`` (seconds of the send rate
    without sending limits; a cap's window may be days), else as a computed wait.
    """
    per_pass = _events(asl["States"])
    passes = (HISTORY_EVENTS_LIMIT - HISTORY_EVENTS_RESERVE) // per_pass
    waited = _waited(asl["States"], wait_ceiling, deferral_ceiling)
    if waited:
        passes = min(passes, EXECUTION_SECONDS_BUDGET // waited)
    return max(1, (passes - 1) // loops)


def _waited(states: dict[str, Any], ceiling: int | None, deferral: int | None = None) -> int:
    """The most one pass over ``states`` can wait, in seconds."""
    most = ceiling or 365 * 86400
    total = 0
    for name, state in states.items():
        if state["Type"] == "Wait" and name.endswith(" deferred until"):
            total += most if deferral is None else min(deferral, most)
        elif state["Type"] == "Wait" and not name.endswith(" resumed"):  # (a folded wait's twin: one or the other)
            total += min(int(state["Seconds"]), most) if "Seconds" in state else most
        total += sum(_waited(b["States"], ceiling, deferral) for b in state.get("Branches", ()))
    return total


def _events(states: dict[str, Any]) -> int:
    return sum(
        EVENTS_PER_STATE.get(state["Type"], 2) + sum(_events(b["States"]) for b in state.get("Branches", ()))
        for state in states.values()
    )


def to_json(asl: dict[str, Any]) -> str:
    """The file form of a definition (``statemachines/<map id>.asl.json``)."""
    return json.dumps(asl, indent=2) + "\n"


def substitutions_used(asl: dict[str, Any]) -> set[str]:
    """The ``${Name}`` DefinitionSubstitutions a definition refers to."""
    return set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", json.dumps(asl)))


def _retry() -> list[dict[str, Any]]:
    return [
        {
            "ErrorEquals": list(RETRY_ERRORS),
            "IntervalSeconds": 2,
            "MaxAttempts": 5,
            "BackoffRate": 2.0,
            "JitterStrategy": "FULL",
        }
    ]


def _visit() -> dict[str, str]:
    """The payload fields that name one visit of a state (stable across its retries): the key of
    an action's idempotency and of the history entries resolve_wait and check_condition write."""
    return {
        "execution_id.$": "$$.Execution.Id",
        "state_name.$": "$$.State.Name",
        "state_entered_time.$": "$$.State.EnteredTime",
    }


def _wait_failed(cause: str) -> dict[str, Any]:
    """The Fail state a fork branch ends in when a wait in it cannot be resolved."""
    return {
        "Type": "Fail",
        "Comment": "Fail the branch, so that the fork sends the contact out of the map (on_error: {wait: exit})",
        "Error": WAIT_FAILED,
        "Cause": cause,
    }


def _function(name: str) -> str:
    return f"${{{function_arn_substitution(name)}}}"


class _Compiler:
    """Builds one definition; state names and payload keys are unique across it."""

    def __init__(self, map_: Map, loop_bound: int) -> None:
        self.map = map_
        self.loop_bound = loop_bound
        self.refs = {ref.path: ref for ref in walk(map_)}
        self.by_id = {ref.step.id: ref for ref in self.refs.values() if ref.step.id}
        self.linked: set[str] = set()
        self.keys: set[str] = set()
        self.check_keys: dict[str, str] = {}
        self.loops: list[str] = []
        self.fork_after: list[str] = []
        """The state after the outermost fork being compiled (a pause inside it takes effect there)."""
        self.left: list[tuple[str, set[str]]] = []
        """The Succeed state a superseded task ends in, per fork branch being compiled."""
        self.goals: list[dict[str, Any]] = []
        self.then_wait: dict[Path, dict[str, Any]] = {}
        """Actions followed by a folded wait -> the ``then_wait`` of their payload."""
        self.then_wait_keys: dict[Path, str] = {}
        self.then_resolve: dict[Path, tuple[dict[str, Any], str, str, str]] = {}
        """Actions followed by a wait (or an action's ``when``) that must be resolved -> (the
        ``then_resolve`` of their payload, its timer key, the state the action goes on to, the
        resolve Task's name)."""
        self.resolve_keys: dict[Path, str] = {}
        self.then_end: dict[Path, StepRef] = {}
        """Actions followed by an ``end`` step -> that step (the action records the exit)."""

    def build(self) -> dict[str, Any]:
        states: dict[str, Any] = {}
        start = self._steps(states, ("steps",), self.map.steps, COMPLETED)
        if COMPLETED in self.linked:
            if self.map.stays_after_last_step:
                self._stay(states)
            else:
                self._exit(states, COMPLETED, "completed", COMPLETED, "Exit the map: every step has run")
        if EXITED in self.linked:
            states[EXITED] = {"Type": "Succeed", "Comment": "The contact has left the map"}
        if LEFT in self.linked:
            states[LEFT] = {
                "Type": "Succeed",
                "Comment": "This run no longer holds the contact (a goal, a pause, a removal or a return moved "
                "them; their position is on the enrollment): it ends here",
            }
        start = self._resume(states, start)
        if self.loops:
            counters = {
                "Type": "Pass",
                "Comment": f"Start the go_to loop counters at 0; after {self.loop_bound} rounds a loop continues in a new "
                "run, which keeps each execution under the 25,000-event history limit and a year",
                "Result": {key: {"count": 0} for key in self.loops},
                "ResultPath": "$.loops",
                "Next": start,
            }
            states, start = {LOOP_COUNTERS: counters, **states}, LOOP_COUNTERS
        comment = (
            f"Automation map '{self.map.id}' ({self.map.name}), version {self.map.content_hash()}. "
            "Generated by `automaps compile` from the map's YAML: edit the map, not this file."
        )
        return {"Comment": comment, "StartAt": start, "States": states}

    def _resume(self, states: dict[str, Any], start: str) -> str:
        """The first Choice: a run started by a move (``$.resume.state``) enters that state; any
        top-level Task, Wait, Pass or Parallel can be entered (not the failure records)."""
        targets = [
            name
            for name, state in states.items()
            if state["Type"] in RESUMABLE_TYPES
            and not name.endswith((" failed", " deferred", " deferred until"))
            and name != LOOP_COUNTERS
        ]
        states[RESUME_CHECK] = {
            "Type": "Choice",
            "Comment": "A run started by a move (goal, unpause, return) continues where the contact stands",
            "Choices": [{"Variable": "$.resume", "IsPresent": True, "Next": RESUME}],
            "Default": start,
        }
        states[RESUME] = {
            "Type": "Choice",
            "Comment": "Enter the state the move names ($.resume.state)",
            "Choices": [{"Variable": "$.resume.state", "StringEquals": name, "Next": name} for name in targets],
            "Default": start,
        }
        return RESUME_CHECK

    def _stay(self, states: dict[str, Any]) -> None:
        """A sequence whose contacts stay subscribed after the last step: exit_map with
        ``stay`` keeps the enrollment waiting (until removed) instead of exiting."""
        payload = {**self._ids(COMPLETED), "reason": "completed", "stay": True, **_visit()}
        self._task(
            states,
            COMPLETED,
            "The last step has run: the contact stays subscribed to the sequence until removed",
            "exit_map",
            payload,
            EXITED,
            EXITED,
        )

    # ------------------------------------------------------------ names and keys

    def _to(self, name: str) -> str:
        """``name`` as the target of a transition (terminal states are added only when targeted)."""
        self.linked.add(name)
        return name

    def _key(self, label: str) -> str:
        """A JSONPath-safe key, unique in this definition, for ``$.checks``/``$.timers``/``$.loops``."""
        base = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")
        base = base if base[:1].isalpha() else f"step_{base}"
        key, n = base, 2
        while key in self.keys:
            key, n = f"{base}_{n}", n + 1
        self.keys.add(key)
        return key

    @staticmethod
    def _main(ref: StepRef) -> str:
        return ref.label if ref.step.id else f"{ref.label} {ref.step.kind}"

    def _first(self, ref: StepRef) -> str:
        """The name of the state a step starts with (what a transition to the step targets)."""
        step, main = ref.step, self._main(ref)
        if isinstance(step, ActionStep) and step.when:
            return f"{main} when resolve"
        if isinstance(step, WaitStep):
            return main if self._folded_wait(ref) else f"{main} resolve"
        if isinstance(step, (IfStep, SwitchStep)):
            return f"{main} check"
        return main

    def _folded_wait(self, ref: StepRef) -> bool:
        """A fixed wait (a delay, or a date; outside forks, no go_to to it) right after an action: the
        action's own invocation records the position of the wait (``then_wait``), so the wait is
        a plain Wait state, with no resolve Task (one transition and one invocation fewer), and a
        twin "<wait> resumed" (TimestampPath) is what a move resumes into."""
        *list_path, index = ref.path
        if not isinstance(ref.step, WaitStep) or ref.step.wait.needs_resolving or ref.branch or ref.step.wait.until:
            return False
        if self._hand_off_after and ref.step.wait.delay_seconds > self._hand_off_after:
            return False  # long enough to be handed to the scheduler: its resolve Task decides
        if ref.step.id and any(
            isinstance(r.step, GoToStep) and r.step.go_to == ref.step.id for r in self.refs.values()
        ):
            return False  # a go_to reaches it too: it resolves (and records) its own position
        if not isinstance(index, int) or index == 0:
            return False
        before = self.refs[(*list_path, index - 1)].step
        returns = getattr(before, "action", "") in RETURNING_ACTIONS and bool(
            getattr(getattr(before, "settings", None), "return_", False)
        )
        return isinstance(before, ActionStep) and not returns

    def _folded_resolve(self, ref: StepRef) -> bool:
        """A wait that must be resolved at run time (the contact's timezone or fields, a date, a
        spread), or an action's ``when``, right after an action (outside forks): the action's own
        invocation resolves it (``then_resolve``) and goes straight to its Wait (or its "past"
        Choice), one Task and one invocation fewer. The resolve Task stays for the other ways in
        (the action failed, a go_to, a resume) and for an action that could not resolve it."""
        *list_path, index = ref.path
        if ref.branch or not isinstance(index, int) or index == 0:
            return False
        step = ref.step
        if isinstance(step, WaitStep):
            if self._folded_wait(ref):
                return False
        elif not (isinstance(step, ActionStep) and step.when):
            return False
        before = self.refs[(*list_path, index - 1)].step
        return isinstance(before, ActionStep) and not self._returns(before)

    @staticmethod
    def _returns(step: Any) -> bool:
        return getattr(step, "action", "") in RETURNING_ACTIONS and bool(
            getattr(getattr(step, "settings", None), "return_", False)
        )

    def _then_resolve(self, ref: StepRef) -> tuple[dict[str, Any], str, str, str]:
        """What the action before a folded resolve asks its invocation to work out (a resolve_wait
        request, less the ids and the visit), the timer key, where it goes on and the resolve Task."""
        step = ref.step
        key = self._key(ref.label)
        self.resolve_keys[ref.path] = key
        main = self._main(ref)
        if isinstance(step, WaitStep):
            spec: WaitSpec | When = step.wait
            name, skip = main, spec.skips_if_past
        else:
            spec, name = step.when, f"{main} when"  # type: ignore[attr-defined]
            skip = bool(spec.until_field or spec.skips_if_past)
        request = {"step_id": ref.label, **self._resolve_request(spec, name, key)}
        return request, key, f"{name} past" if skip else name, f"{name} resolve"

    def _list_first(self, list_path: Path) -> str:
        return self._first(self.refs[(*list_path, 0)])

    def _ids(self, step_id: str) -> dict[str, Any]:
        return {
            "contact_id.$": "$.contact_id",
            "enrollment_id.$": "$.enrollment_id",
            "map_id": self.map.id,
            "step_id": step_id,
        }

    # ------------------------------------------------------------ steps

    def _steps(self, states: dict[str, Any], list_path: Path, steps: list[Any], after: str) -> str:
        """Compile a list of steps that continues with ``after``; returns its first state."""
        refs = [self.refs[(*list_path, i)] for i in range(len(steps))]
        for i, ref in enumerate(refs):
            following = self._first(refs[i + 1]) if i + 1 < len(refs) else after
            decides = refs[i + 1] if i + 1 < len(refs) and isinstance(refs[i + 1].step, (IfStep, SwitchStep)) else None
            if i + 1 < len(refs) and self._folded_wait(refs[i + 1]):
                self.then_wait[ref.path] = self._then_wait(refs[i + 1])
            elif i + 1 < len(refs) and self._folded_resolve(refs[i + 1]):
                self.then_resolve[ref.path] = self._then_resolve(refs[i + 1])
            elif i + 1 < len(refs) and isinstance(refs[i + 1].step, EndStep) and not refs[i + 1].branch:
                self.then_end[ref.path] = refs[i + 1]
            self._step(states, ref, following, decides)
        return self._first(refs[0])

    def _step(self, states: dict[str, Any], ref: StepRef, after: str, decides: StepRef | None = None) -> None:
        step = ref.step
        if isinstance(step, ActionStep):
            self._action(states, ref, after, decides)
        elif isinstance(step, WaitStep):
            self._wait(states, ref, after)
        elif isinstance(step, IfStep):
            self._if(states, ref, after)
        elif isinstance(step, SwitchStep):
            self._switch(states, ref, after)
        elif isinstance(step, GoToStep):
            self._go_to(states, ref)
        elif isinstance(step, ForkStep):
            self._fork(states, ref, after)
        elif isinstance(step, EndStep):
            self._exit(states, self._main(ref), "end", ref.label, "Exit the map: the contact reached end")
        elif isinstance(step, (GoalStep, WaitUntilStep)):
            self._await(states, ref, after)
        else:  # pragma: no cover - every kind in STEP_MODELS is handled above
            raise TypeError(f"no compilation for step kind {step.kind!r}")

    def _action(self, states: dict[str, Any], ref: StepRef, after: str, decides: StepRef | None = None) -> None:
        """The action's Task; with ``decides`` (the if/switch right after it), the Task also
        decides that step's condition and goes straight to its Choice."""
        step: ActionStep = ref.step  # type: ignore[assignment]
        main = self._main(ref)
        if step.when:
            self._timing(states, ref, step.when, after)
        settings = step.settings.model_dump(mode="json", by_alias=True, exclude_unset=True)
        payload = {**self._ids(ref.label), "action": step.action, "settings": settings}
        if step.only_if is not None:
            payload["only_if"] = dump(step.only_if)
            if needs_timezone(step.only_if):
                payload["fallback_timezone"] = self.map.fallback_timezone
        returns = step.action in RETURNING_ACTIONS and bool(getattr(step.settings, "return_", False))
        if decides is not None and not returns:
            payload["then_check"] = self._check_spec(decides)
        if returns:
            payload["next_state"] = after
        if ref.path in self.then_wait:
            payload["then_wait"] = self.then_wait[ref.path]
        resolves = self.then_resolve.get(ref.path)
        if resolves is not None:
            payload["then_resolve"] = resolves[0]
        exits = self._then_exit(ref, after, returns)
        if exits is not None:
            payload["then_exit"] = exits
        limited = step.action in LIMITED_ACTIONS
        if limited:  # the map's sending limits and the channel's send rate: a deferred send comes back
            sending = self.map.sending
            payload["sending"] = sending.model_dump(mode="json", by_alias=True) if sending is not None else {}
            payload["deferral"] = "catch"
            if self.map.fallback_timezone:
                payload["fallback_timezone"] = self.map.fallback_timezone
        payload |= {"missing_fields": self.map.missing_fields, **_visit(), "retry_count.$": "$$.State.RetryCount"}
        comment = f"{step.action}: {_settings_words(settings)}"
        if step.only_if is not None:
            comment += f"; runs only if {describe_condition(step.only_if)}, else is skipped"
        if returns:
            self._returning(states, ref, comment, payload, after)
            return
        deferral = f"{main} deferred" if limited else None
        if resolves is not None:
            _, key, goes_on, resolve_task = resolves
            comment += f"; then works out the wait of '{goes_on}' (the moment goes to $.timers.{key})"
            selector = {"at.$": "$.Payload.wait.at"} | (
                {"skip.$": "$.Payload.wait.skip"} if goes_on.endswith(" past") else {}
            )
            self._task(
                states,
                main,
                comment,
                step.action,
                payload,
                goes_on,
                after,
                result_selector=selector,
                result_path=f"$.timers.{key}",
                deferral=deferral,
                unfolded=resolve_task,
            )
        elif exits is not None:
            exit_state = exits["position"]["state"]
            comment += f"; then the contact leaves the map ({exits['reason']}, as '{exit_state}' would record)"
            self._task(states, main, comment, step.action, payload, "", after, deferral=deferral, unfolded=exit_state)
        elif decides is None:
            self._task(states, main, comment, step.action, payload, after, after, deferral=deferral)
        else:
            key, choice = self._check_key(decides), self._main(decides)
            comment += f"; then decides '{choice}' (the answer goes to $.checks.{key})"
            self._task(
                states,
                main,
                comment,
                step.action,
                payload,
                choice,
                after,
                result_selector={"answer.$": "$.Payload.check"},
                result_path=f"$.checks.{key}",
                deferral=deferral,
            )
        if limited:
            self._deferral(states, main)

    def _then_exit(self, ref: StepRef, after: str, returns: bool) -> dict[str, Any] | None:
        """The exit an action records in its own invocation (``then_exit``) when the contact leaves
        the map right after it (outside forks): the map's last step ("Completed": reason
        ``completed``, or ``stay`` for a sequence) or an ``end`` step next. Its Task then ends the
        execution (``End``): no exit Task, no Succeed. The exit's own Task stays for the other
        ways in (the action failed, a go_to, a resume) and for an action that could not exit."""
        if returns or self.fork_after or ref.branch:
            return None
        end = self.then_end.get(ref.path)
        if end is not None:
            return {"step_id": end.label, "reason": "end", "position": self._position("step", self._main(end))}
        if after != COMPLETED:
            return None
        stay = {"stay": True} if self.map.stays_after_last_step else {}
        return {"step_id": COMPLETED, "reason": "completed", "position": self._position("step", COMPLETED)} | stay

    def _deferral(self, states: dict[str, Any], main: str) -> None:
        """A send held back (quiet hours, a cap, the channel's rate) raises ``Deferred`` with the
        moment it may go: the Task's Catch goes to Pass "M deferred" (the moment out of the
        error's cause), Wait "M deferred until", and the same Task again (a new visit). The
        normal path has no extra state."""
        states[f"{main} deferred"] = {
            "Type": "Pass",
            "Comment": f"'{main}' was held back (quiet hours, a frequency cap or the send rate): read until when",
            "Parameters": {"cause.$": "States.StringToJson($.deferral.Cause)"},
            "ResultPath": "$.deferral",
            "Next": f"{main} deferred until",
        }
        states[f"{main} deferred until"] = {
            "Type": "Wait",
            "Comment": f"Wait until '{main}' may send, then send it (the error's message is the moment)",
            "TimestampPath": "$.deferral.cause.errorMessage",
            "Next": main,
        }

    def _timing(self, states: dict[str, Any], ref: StepRef, when: When, after: str) -> None:
        """The wait "M when" before an action: Seconds or Timestamp when fixed, else resolved at run
        time; an action whose moment is missed and skipped (or whose date is missing) goes to ``after``."""
        main = self._main(ref)
        name = f"{main} when"
        skip = after if (when.until_field or when.skips_if_past) else None
        self._resolved(states, ref, when, name, main, skip, after)

    def _resolved(
        self,
        states: dict[str, Any],
        ref: StepRef,
        spec: WaitSpec | When,
        name: str,
        then: str,
        skip: str | None,
        on_failure: str,
    ) -> None:
        """Task "<name> resolve" (resolve_wait: the moment, and whether to skip, to ``$.timers.<key>``)
        -> [Choice "<name> past": skip to ``skip``] -> Wait "<name>" (TimestampPath) -> ``then``."""
        action = isinstance(spec, When)
        key = self.resolve_keys[ref.path] if ref.path in self.resolve_keys else self._key(ref.label)
        payload = {**self._ids(ref.label), **self._resolve_request(spec, name, key), **_visit()}
        selector = {"at.$": "$.Payload.at"} | ({"skip.$": "$.Payload.skip"} if skip else {})
        what = f"when '{then}' runs" if action else "when the wait ends"
        exits = self.map.on_error.wait == "exit"
        in_branch = bool(ref.branch)
        self._task(
            states,
            f"{name} resolve",
            f"Work out {what} ({self._wait_words(spec)}); the UTC time goes to $.timers.{key}",
            "resolve_wait",
            payload,
            f"{name} past" if skip else name,
            f"{name} wait failed" if exits and in_branch else on_failure,
            result_selector=selector,
            result_path=f"$.timers.{key}",
            catch_to=f"{name} wait failed" if exits and not in_branch else None,
        )
        if exits and in_branch:
            states[f"{name} wait failed"] = _wait_failed(f"'{name} resolve' failed after its retries")
        elif exits:
            self._exit(
                states,
                f"{name} wait failed",
                "wait_failed",
                ref.label,
                f"Exit the map: '{name} resolve' failed after its retries, and nothing after the wait may run "
                "early (on_error: {wait: exit})",
                error=True,
            )
        if skip:
            missed = "its date is missing or already past" if action and spec.until_field else "it is already past"
            states[f"{name} past"] = {
                "Type": "Choice",
                "Comment": f"If {missed}, skip to '{skip}' (recorded with the reason)",
                "Choices": [{"Variable": f"$.timers.{key}.skip", "BooleanEquals": True, "Next": self._to(skip)}],
                "Default": self._to(name),
            }
        states[name] = {
            "Type": "Wait",
            "Comment": f"Wait until the time worked out by '{name} resolve'",
            "TimestampPath": f"$.timers.{key}.at",
            "Next": self._to(then),
        }

    def _resolve_request(self, spec: WaitSpec | When, name: str, key: str) -> dict[str, Any]:
        """A resolve_wait request's settings (automaps.journeys.journey.WaitRequest) for the wait
        "<name>" (timer ``key``): shared by its resolve Task and an action that resolves it."""
        request: dict[str, Any] = {
            "when" if isinstance(spec, When) else "wait": spec.model_dump(mode="json", exclude_unset=True)
        }
        if self.map.fallback_timezone:
            request["fallback_timezone"] = self.map.fallback_timezone
        request["position"] = self._position("wait", name, key)
        if self._hand_off_after and not self.fork_after:
            request["hand_off_after"] = self._hand_off_after
        if self.map.waits.spread is not None:  # the map's spread of synchronized moments (resolve_wait)
            request["spread"] = self.map.waits.spread.total_seconds
        if self.map.sending is not None and self.map.sending.quiet_hours is not None:  # never spread into them
            request["sending"] = {"quiet_hours": self.map.sending.quiet_hours.model_dump(mode="json", by_alias=True)}
        return request

    def _wait(self, states: dict[str, Any], ref: StepRef, after: str) -> None:
        spec: WaitSpec = ref.step.wait  # type: ignore[attr-defined]
        main = self._main(ref)
        if self._folded_wait(ref):
            key = self.then_wait_keys[ref.path]
            fixed: dict[str, Any] = {"Timestamp": iso(spec.until)} if spec.until else {"Seconds": spec.delay_seconds}
            words = f"until {iso(spec.until)}" if spec.until else duration_words(spec.delay_seconds)
            states[main] = {
                "Type": "Wait",
                "Comment": f"Wait {words} (the action before recorded the contact's position in it)",
                **fixed,
                "Next": self._to(after),
            }
            states[f"{main} resumed"] = {
                "Type": "Wait",
                "Comment": f"A resumed run waits out what is left of '{main}' ($.timers.{key}.at)",
                "TimestampPath": f"$.timers.{key}.at",
                "Next": self._to(after),
            }
            return
        leave = f"{main} exit" if spec.skips_if_past else None
        self._resolved(states, ref, spec, main, after, leave, after)
        if leave:
            self._exit(
                states,
                leave,
                "wait_past",
                ref.label,
                "Exit the map: the moment this wait was for had already passed (if_past: skip)",
            )

    def _wait_words(self, spec: WaitSpec | When) -> str:
        words = []
        if spec.delay_seconds:
            words.append(duration_words(spec.delay_seconds))
        if spec.until:
            words.append(f"until {iso(spec.until)}")
        if spec.until_field:
            offset = spec.offset.total_seconds if spec.offset else 0
            shift = f"{duration_words(abs(offset))} {'before' if offset < 0 else 'after'} " if offset else ""
            yearly = "the next anniversary of " if spec.yearly else ""
            words.append(f"until {shift}{yearly}the contact's field {spec.until_field}")
        if spec.local_slot:
            slot = (
                f"the next {spec.at}"
                if spec.at
                else f"within {spec.between[0]}-{spec.between[1]} (at once if inside)"
                if spec.between
                else "the next allowed day"
            )
            days = f" on {', '.join(spec.weekdays)}" if spec.weekdays else ""
            zone = spec.timezone or "contact"
            where = f"the contact's timezone (or {self.map.fallback_timezone})" if zone == "contact" else zone
            words.append(f"{'then ' if words else ''}{slot}{days} in {where}")
        if spec.skips_if_past:
            words.append("skipped if already past")
        return ", ".join(words)

    def _if(self, states: dict[str, Any], ref: StepRef, after: str) -> None:
        step: IfStep = ref.step  # type: ignore[assignment]
        main, key = self._main(ref), self._check_key(ref)
        then_path, else_path = (*ref.path, "then"), (*ref.path, "else")
        then, otherwise = self._list_first(then_path), self._list_first(else_path) if step.else_ else after
        words = describe_condition(step.if_)
        self._check(states, ref, f"Evaluate: {words}", after)
        states[main] = self._choice(
            ref,
            f"If {words}: '{then}'; otherwise '{otherwise}'",
            [{"Variable": f"$.checks.{key}.answer.result", "BooleanEquals": True, "Next": self._to(then)}],
            otherwise,
        )
        self._steps(states, then_path, step.then, after)
        if step.else_:
            self._steps(states, else_path, step.else_, after)

    def _switch(self, states: dict[str, Any], ref: StepRef, after: str) -> None:
        step: SwitchStep = ref.step  # type: ignore[assignment]
        main, key = self._main(ref), self._check_key(ref)
        otherwise = self._list_first((*ref.path, "default")) if step.default else after
        rules, words = [], []
        for i, case in enumerate(step.switch):
            then_first = self._list_first((*ref.path, "switch", i, "then"))
            rules.append({"Variable": f"$.checks.{key}.answer.case", "NumericEquals": i, "Next": self._to(then_first)})
            words.append(f"case {i}: {describe_condition(case.when)}")
        self._check(states, ref, f"Evaluate the cases in order, the first that holds wins ({'; '.join(words)})", after)
        states[main] = self._choice(ref, f"Go to the first case that holds; if none, '{otherwise}'", rules, otherwise)
        for suffix, steps in step.branches():
            self._steps(states, (*ref.path, *suffix), steps, after)

    def _check_key(self, ref: StepRef) -> str:
        """The ``$.checks`` key of an if/switch (shared by its check Task and a folding action)."""
        if ref.label not in self.check_keys:
            self.check_keys[ref.label] = self._key(ref.label)
        return self.check_keys[ref.label]

    def _check_spec(self, ref: StepRef) -> dict[str, Any]:
        """What to decide for an if/switch: ``condition`` or ``cases`` (automaps.journeys.journey.Check)."""
        step, spec = ref.step, dict[str, Any]()
        if isinstance(step, IfStep):
            conditions, spec = [step.if_], {"step_id": ref.label, "condition": dump(step.if_)}
        else:
            conditions = [case.when for case in step.switch]  # type: ignore[attr-defined]
            spec = {"step_id": ref.label, "cases": [dump(c) for c in conditions]}
        if any(needs_timezone(c) for c in conditions):
            spec["fallback_timezone"] = self.map.fallback_timezone
        return spec

    def _check(self, states: dict[str, Any], ref: StepRef, comment: str, after: str) -> None:
        key, spec = self._check_key(ref), self._check_spec(ref)
        payload = {**self._ids(ref.label), **{k: v for k, v in spec.items() if k != "step_id"}, **_visit()}
        self._task(
            states,
            f"{self._main(ref)} check",
            f"{comment}; the answer goes to $.checks.{key}",
            "check_condition",
            payload,
            self._main(ref),
            after,
            result_selector={"answer.$": "$.Payload"},
            result_path=f"$.checks.{key}",
        )

    def _choice(self, ref: StepRef, comment: str, rules: list[dict[str, Any]], otherwise: str) -> dict[str, Any]:
        """The if/switch Choice. When an action before it decides it, an answer it could not
        give (null) sends the contact through the check Task first."""
        key, main = self._check_key(ref), self._main(ref)
        if self._folded(ref):
            rules = [{"Variable": f"$.checks.{key}.answer", "IsNull": True, "Next": self._to(f"{main} check")}, *rules]
        return {"Type": "Choice", "Comment": comment, "Choices": rules, "Default": self._to(otherwise)}

    def _folded(self, ref: StepRef) -> bool:
        """Whether the step right before this if/switch is an action (which then decides it)."""
        *list_path, index = ref.path
        if not isinstance(index, int) or index == 0:
            return False
        return isinstance(self.refs[(*list_path, index - 1)].step, ActionStep)

    def _go_to(self, states: dict[str, Any], ref: StepRef) -> None:
        main, target_id = self._main(ref), ref.step.go_to  # type: ignore[attr-defined]
        target = self.by_id[target_id]
        first = self._first(target)
        if target.order > ref.order:
            states[main] = {"Type": "Pass", "Comment": f"Go to step '{target_id}'", "Next": self._to(first)}
            return
        key = self._key(ref.label)
        self.loops.append(key)
        states[main] = {
            "Type": "Pass",
            "Comment": f"Count one more round of the loop back to step '{target_id}' in $.loops.{key}",
            "Parameters": {"count.$": f"States.MathAdd($.loops.{key}.count, 1)"},
            "ResultPath": f"$.loops.{key}",
            "Next": self._to(f"{main} limit"),
        }
        states[f"{main} limit"] = {
            "Type": "Choice",
            "Comment": f"Go back to step '{target_id}', unless the loop has run {self.loop_bound} rounds in this run",
            "Choices": [
                {
                    "Variable": f"$.loops.{key}.count",
                    "NumericGreaterThan": self.loop_bound,
                    "Next": self._to(f"{main} continues"),
                }
            ],
            "Default": self._to(first),
        }
        payload = {**self._ids(ref.label), "reason": "loop_continues", "continue_at": main} | _visit()
        self._task(
            states,
            f"{main} continues",
            f"The loop back to step '{target_id}' ran {self.loop_bound} rounds in this run: the contact "
            "continues at it in a new run (its history and age start again), and this run ends",
            "exit_map",
            payload,
            self._to(LEFT),
            EXITED,
        )

    def _fork(self, states: dict[str, Any], ref: StepRef, after: str) -> None:
        step: ForkStep = ref.step  # type: ignore[assignment]
        main = self._main(ref)
        branches: list[dict[str, Any]] = []
        self.fork_after.append(after)
        for i, steps in enumerate(step.fork):
            done, branch_states = f"{main} branch {i} done", dict[str, Any]()
            left = f"{main} branch {i} left"
            self.left.append((left, set()))
            first = self._steps(branch_states, (*ref.path, "fork", i), steps, done)
            if done in self.linked:
                branch_states[done] = {"Type": "Succeed", "Comment": f"Branch {i} of '{main}' has finished"}
            if self.left.pop()[1]:
                branch_states[left] = {
                    "Type": "Succeed",
                    "Comment": "This run no longer holds the contact: the branch ends here",
                }
            branches.append({"StartAt": first, "States": branch_states})
        self.fork_after.pop()
        catch: list[dict[str, Any]] = [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": self._to(f"{main} failed")}
        ]
        if any(state.get("Error") == WAIT_FAILED for b in branches for state in b["States"].values()):
            catch.insert(
                0, {"ErrorEquals": [WAIT_FAILED], "ResultPath": "$.error", "Next": self._to(f"{main} wait failed")}
            )
            if ref.branch:
                states[f"{main} wait failed"] = _wait_failed(f"a wait in a branch of '{main}' could not be resolved")
            else:
                self._exit(
                    states,
                    f"{main} wait failed",
                    "wait_failed",
                    ref.label,
                    f"Exit the map: a wait in a branch of '{main}' could not be resolved (on_error: {{wait: exit}})",
                    error=True,
                )
        states[main] = {
            "Type": "Parallel",
            "Comment": f"Run {len(branches)} branches side by side; go on when all have finished",
            "Branches": branches,
            "ResultPath": None,
            "Catch": catch,
            "Next": self._to(after),
        }
        states[f"{main} failed"] = self._failure(main, after, ref.label)

    def _exit(
        self, states: dict[str, Any], name: str, reason: str, step_id: str, comment: str, *, error: bool = False
    ) -> None:
        payload = {**self._ids(step_id), "reason": reason} | ({"error.$": "$.error"} if error else {})
        if self.fork_after:
            payload["position"] = self._position("end", name)
        self._task(states, name, comment, "exit_map", payload | _visit(), EXITED, EXITED)

    # ------------------------------------------------------------ tasks

    def _task(
        self,
        states: dict[str, Any],
        name: str,
        comment: str,
        function: str,
        payload: dict[str, Any],
        after: str,
        on_failure: str,
        *,
        result_selector: dict[str, str] | None = None,
        result_path: str | None = None,
        catch_to: str | None = None,
        deferral: str | None = None,
        unfolded: str | None = None,
    ) -> None:
        """A Lambda Task ``name`` and its "<name> failed" state, which goes on to ``on_failure``;
        with ``catch_to``, its Catch goes there instead (and no "<name> failed" is added); with
        ``deferral``, ``Deferred`` is caught to that state (a held-back send); with ``unfolded``,
        :data:`UNFOLDED` is caught to that state. ``after`` "" ends the execution (``End``)."""
        if self.fork_after and "execution_id.$" in payload and "position" not in payload:
            payload = {**payload, "position": self._position("step", name)}
        task: dict[str, Any] = {
            "Type": "Task",
            "Comment": comment,
            "Resource": TASK_RESOURCE,
            "Parameters": {"FunctionName": _function(function), "Payload": payload},
        }
        if result_selector:
            task["ResultSelector"] = result_selector
        task |= {
            "ResultPath": result_path,
            "Retry": _retry(),
            "Catch": [
                {"ErrorEquals": [SUPERSEDED], "ResultPath": None, "Next": self._left_state()},
                *([{"ErrorEquals": [DEFERRED], "ResultPath": "$.deferral", "Next": deferral}] if deferral else []),
                *([{"ErrorEquals": [UNFOLDED], "ResultPath": None, "Next": self._to(unfolded)}] if unfolded else []),
                {
                    "ErrorEquals": ["States.ALL"],
                    "ResultPath": "$.error",
                    "Next": self._to(catch_to or f"{name} failed"),
                },
            ],
        }
        task |= {"Next": self._to(after)} if after else {"End": True}
        states[name] = task
        if catch_to is None:
            states[f"{name} failed"] = self._failure(name, on_failure, payload["step_id"])

    def _failure(self, name: str, after: str, step_id: str) -> dict[str, Any]:
        return {
            "Type": "Task",
            "Comment": f"Record on the contact's history that '{name}' failed, then go on",
            "Resource": TASK_RESOURCE,
            "Parameters": {
                "FunctionName": _function("record_failure"),
                "Payload": {**self._ids(step_id), "error.$": "$.error"},
            },
            "ResultPath": None,
            "Retry": _retry(),
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": self._to(after)}],
            "Next": self._to(after),
        }

    def _then_wait(self, ref: StepRef) -> dict[str, Any]:
        """What the action before a folded wait records: the wait's position (its resumed twin,
        the timer key) and how long it lasts."""
        spec: WaitSpec = ref.step.wait  # type: ignore[attr-defined]
        key = self._key(ref.label)
        self.then_wait_keys[ref.path] = key
        main = self._main(ref)
        found: dict[str, Any] = {"step": ref.label, "state": f"{main} resumed", "timer": key}
        return found | ({"until": iso(spec.until)} if spec.until else {"seconds": spec.delay_seconds})

    @property
    def _hand_off_after(self) -> int:
        """Seconds after which a wait is handed to the scheduler (0: never)."""
        after = self.map.waits.hand_off_after
        return after.total_seconds if after else 0

    def _left_state(self) -> str:
        """Where a superseded task goes: "Left", or its fork branch's own Succeed."""
        if self.left:
            name, used = self.left[-1]
            used.add(name)
            return name
        return self._to(LEFT)

    def _position(self, kind: str, state: str, timer: str | None = None, **more: Any) -> dict[str, Any]:
        """A task's ``position`` (automaps.journeys.positions.PositionSpec): inside a fork, the
        state after the fork (a pause takes effect there)."""
        if self.fork_after:
            return {"kind": "fork", "state": self.fork_after[0]}
        spec: dict[str, Any] = {"kind": kind, "state": state}
        if timer:
            spec["timer"] = timer
        return spec | more

    def _returning(
        self, states: dict[str, Any], ref: StepRef, comment: str, payload: dict[str, Any], after: str
    ) -> None:
        """add_to_automation / add_to_sequence with ``return: true``: the action makes the contact
        wait (their position: the step after it), and this run ends; the other map's end or exit
        starts the run that continues at ``after`` (automaps.journeys.moves.return_to_caller)."""
        main, key = self._main(ref), self._key(ref.label)
        waiting = f"{main} waiting"
        self._task(
            states,
            main,
            f"{comment}; the contact then waits for the other map to end",
            ref.step.action,  # type: ignore[attr-defined]
            payload,
            f"{main} returns?",
            after,
            result_selector={"detail.$": "$.Payload.detail"},
            result_path=f"$.checks.{key}",
        )
        states[f"{main} returns?"] = {
            "Type": "Choice",
            "Comment": f"If the contact now waits for the other map, this run ends; else on to '{after}'",
            "Choices": [
                {
                    "And": [
                        {"Variable": f"$.checks.{key}.detail.waiting", "IsPresent": True},
                        {"Variable": f"$.checks.{key}.detail.waiting", "BooleanEquals": True},
                    ],
                    "Next": self._to(waiting),
                }
            ],
            "Default": self._to(after),
        }
        states[waiting] = {
            "Type": "Succeed",
            "Comment": f"The contact waits for the other map to end; then a new run continues at '{after}'",
        }

    def _await(self, states: dict[str, Any], ref: StepRef, after: str) -> None:
        """A ``goal`` or ``wait_until`` step: Task "M" (check_condition with ``awaits``: met now?
        also the position, with what is awaited, for the router) -> Choice "M met?": met -> on;
        timed out -> on or exit; no timeout -> Succeed "M waiting" (the router continues the
        contact when achieved); else Wait "M wait" (until the timeout) -> Task "M recheck"."""
        step = ref.step
        spec: Awaited = step.goal if isinstance(step, GoalStep) else step.wait_until  # type: ignore[attr-defined]
        main, key, goal = self._main(ref), self._key(ref.label), isinstance(step, GoalStep)
        kind = "goal" if goal else "wait_until"
        awaits: dict[str, Any] = {"kind": kind}
        if spec.condition is not None:
            awaits["condition"] = dump(spec.condition)
        else:
            awaits["event"] = spec.event.model_dump(mode="json")  # type: ignore[union-attr]
        if spec.timeout is not None:
            awaits["timeout_seconds"] = spec.timeout.total_seconds
        resume = f"{main} wait" if spec.timeout is not None else main
        payload = {
            **self._ids(ref.label),
            "awaits": awaits,
            "position": self._position(kind, resume, key if spec.timeout else None, next=after),
            **_visit(),
        }
        words = describe_condition(spec.condition) if spec.condition is not None else f"event {spec.event.kind}"  # type: ignore[union-attr]
        selector = {"met.$": "$.Payload.result", "at.$": "$.Payload.until", "timed_out.$": "$.Payload.timed_out"}
        what = "goal" if goal else "wait_until"
        self._task(
            states,
            main,
            f"{what}: is it met now ({words})? The answer goes to $.timers.{key}",
            "check_condition",
            payload,
            f"{main} met?",
            after,
            result_selector=selector,
            result_path=f"$.timers.{key}",
        )
        timeout_next = after
        if spec.timeout is not None and spec.on_timeout == "exit":
            timeout_next = f"{main} timed out"
            self._exit(
                states, timeout_next, f"{kind}_timeout", ref.label, f"Exit the map: '{main}' was not met in time"
            )
        choices: list[dict[str, Any]] = [
            {"Variable": f"$.timers.{key}.met", "BooleanEquals": True, "Next": self._to(after)},
            {"Variable": f"$.timers.{key}.timed_out", "BooleanEquals": True, "Next": self._to(timeout_next)},
        ]
        if spec.timeout is None:
            states[f"{main} met?"] = {
                "Type": "Choice",
                "Comment": f"Met: on to '{after}'; else the contact waits at the goal (the router moves them on)",
                "Choices": choices[:1],
                "Default": self._to(f"{main} waiting"),
            }
            states[f"{main} waiting"] = {
                "Type": "Succeed",
                "Comment": "The contact waits at this goal, without a run, until they achieve it",
            }
        else:
            states[f"{main} met?"] = {
                "Type": "Choice",
                "Comment": f"Met: on to '{after}'; timed out: '{timeout_next}'; else wait until the timeout",
                "Choices": choices,
                "Default": self._to(f"{main} wait"),
            }
            states[f"{main} wait"] = {
                "Type": "Wait",
                "Comment": f"Wait until the timeout ({duration_words(spec.timeout.total_seconds)}), unless the "
                "router moves the contact on first",
                "TimestampPath": f"$.timers.{key}.at",
                "Next": self._to(f"{main} recheck"),
            }
            self._task(
                states,
                f"{main} recheck",
                f"At the timeout: met after all ({words})?",
                "check_condition",
                {**payload, "until.$": f"$.timers.{key}.at"},
                f"{main} met?",
                after,
                result_selector=selector,
                result_path=f"$.timers.{key}",
            )
        if goal:
            self.goals.append({"step": ref.label, "order": ref.order, "next": after, **awaits})


# ---------------------------------------------------------------- words for Comments


def _settings_words(settings: dict[str, Any]) -> str:
    return "; ".join(f"{key} {_value_words(value)}" for key, value in settings.items())


def _value_words(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_value_words(item) for item in value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_value_words(item)}" for key, item in value.items()) + "}"
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    return json.dumps(value)
