"""Journey bookkeeping tasks: the payloads and behaviour of ``check_condition``,
``resolve_wait``, ``record_failure`` and ``exit_map`` (docs/architecture.md, "Other task functions").

Each payload carries the state payload's identifiers (contact_id, enrollment_id, map_id) and
the step_id of the state that sends it. What happened goes on the contact's history; a contact
that no longer exists is logged and otherwise left alone, so the execution can finish.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, Field, model_validator

from automaps import clock
from automaps.store.contacts import ContactStore, EnrollmentNotFound

logger = Logger()

CAUSE_LIMIT = 1000  # characters of a failure's Cause kept on the history
CLOCK_SKEW = timedelta(minutes=5)  # between Step Functions' EnteredTime and the Lambda's clock, at most


class _Task(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    contact_id: str = Field(min_length=1)
    enrollment_id: str = Field(min_length=1)
    map_id: str = Field(min_length=1)
    step_id: str | None = None
    position: dict[str, Any] | None = None
    """How the task's step stands in the map (automaps.journeys.positions.PositionSpec)."""


class Visit(BaseModel):
    """One visit of a state (``$$.Execution.Id``, ``$$.State.Name``, ``$$.State.EnteredTime``):
    the same across the Task's retries, new on a later visit (a loop). A history entry written
    for a visit is written once, however often the Lambda is retried after the write."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    execution_id: str = Field(min_length=1)
    state_name: str = Field(min_length=1)
    state_entered_time: str = Field(min_length=1)

    @property
    def key(self) -> str:
        """A short digest of the visit, kept in the entry's detail as ``visit``."""
        visit = f"{self.execution_id}|{self.state_name}|{self.state_entered_time}"
        return hashlib.sha256(visit.encode()).hexdigest()[:24]

    @property
    def entered(self) -> datetime:
        return datetime.fromisoformat(self.state_entered_time)

    @classmethod
    def of(cls, event: dict[str, Any]) -> Visit | None:
        """The visit an event names; None for an event without one (a definition compiled before)."""
        return cls.model_validate(event) if event.get("execution_id") and event.get("state_entered_time") else None


def record_for_visit(
    store: ContactStore,
    visit: Visit | None,
    contact_id: str,
    kind: str,
    detail: dict[str, Any],
    *,
    map_id: str,
    step_id: str | None,
) -> None:
    """``store.record``, but once per visit when the event names one: an entry of this kind since
    the state was entered that carries the visit's key means a retried invocation wrote it already.

    The attempts of one visit run one after another (a Task's Retry), so reading first is enough;
    the entry keeps its time of writing, in order with the entries around it.
    """
    if visit is None:
        store.record(contact_id, kind, detail, map_id=map_id, step_id=step_id)
        return
    since = min(visit.entered, clock.now()) - CLOCK_SKEW
    if any(entry.detail.get("visit") == visit.key for entry in store.events(contact_id, kind, since=since)):
        logger.info("already recorded for this visit (a retried invocation)", extra={"kind": kind})
        return
    store.record(contact_id, kind, {**detail, "visit": visit.key}, map_id=map_id, step_id=step_id)


@contextlib.contextmanager
def transient_errors_retried() -> Iterator[None]:
    """Throttling and 5xx answers from AWS leave the Lambda as ``TransientError``, which the
    Task's Retry matches (a bare ClientError would go straight to the Catch)."""
    from automaps.journeys.steps import TransientError, is_transient

    try:
        yield
    except Exception as error:
        if is_transient(error):
            raise TransientError(f"{type(error).__name__}: {error}") from error
        raise


class Check(BaseModel):
    """What to decide: one ``condition`` (an ``if``) or the ``cases`` of a ``switch`` (first match wins)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    step_id: str | None = None
    condition: dict[str, Any] | None = None
    cases: list[dict[str, Any]] | None = Field(default=None, min_length=1)
    fallback_timezone: str | None = None
    """The map's timezone: calendar dates and times of day of a contact without one are read in it."""

    @model_validator(mode="after")
    def _one(self) -> Check:
        if (self.condition is None) == (self.cases is None):
            raise ValueError("a check has either condition or cases")
        return self

    def no_contact_answer(self) -> dict[str, Any]:
        """The answer for a contact that no longer exists: false, or no case."""
        return {"result": False} if self.condition is not None else {"case": -1}


class Visited(BaseModel):
    """The visit fields a task payload carries (absent in definitions compiled before them)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    execution_id: str | None = None
    state_name: str | None = None
    state_entered_time: str | None = None

    @property
    def visit(self) -> Visit | None:
        return Visit.of(self.model_dump())


class ConditionCheck(_Task, Check, Visited):
    """``check_condition``: decide an if/switch branch; the state stores the answer under $.checks.

    The answer is ``{"result": bool}`` for a condition, ``{"case": index}`` for cases (-1: none).
    """


def enter(task: Any, *, until: str | None = None) -> dict[str, Any] | None:
    """The fence and position of a journey task (automaps.journeys.positions.enter): raises
    Superseded when the task's run no longer holds the contact; returns the position held before."""
    from automaps.journeys import positions

    if not getattr(task, "execution_id", None) or not task.step_id:
        return None
    position = positions.at(task.step_id, task.state_name or task.step_id, task.position, until=until)
    return positions.enter(task.contact_id, task.map_id, task.enrollment_id, task.execution_id, position)


class WaitRequest(BaseModel):
    """``resolve_wait``: when does the contact's ``wait`` end, or their action with ``when`` run?"""

    model_config = ConfigDict(extra="ignore", frozen=True)

    contact_id: str = Field(min_length=1)
    enrollment_id: str | None = None
    map_id: str
    step_id: str
    wait: dict[str, Any] | None = None
    when: dict[str, Any] | None = None
    fallback_timezone: str | None = None
    position: dict[str, Any] | None = None
    hand_off_after: int | None = None
    """Seconds: a longer wait is handed to the scheduler (automaps.journeys.handoff)."""
    spread: int | None = None
    """Seconds: the map's spread window of synchronized moments (``waits.spread``); None: the stack's."""
    sending: dict[str, Any] | None = None
    """The map's sending limits: a spread moment never lands in their quiet hours."""
    execution_id: str | None = None
    state_name: str | None = None
    state_entered_time: str | None = None

    @property
    def visit(self) -> Visit | None:
        return Visit.of(self.model_dump())


_THEN = {"action": "the action did not run", "run": "went on without waiting", "skip": "left the map"}


def resolve_wait(request: WaitRequest) -> dict[str, Any]:
    """``{"at": "<UTC>Z", "skip": bool}`` for the contact (a moment already past comes back as
    now). A missed moment that is skipped, and a date field that gives no moment, are recorded as
    ``step.skipped`` with the reason, once per visit. A moment contacts share (09:00, a window's
    opening, a date) is spread: later by the contact's offset in the spread window (:func:`spread_of`).
    Throttling leaves as ``TransientError``."""
    from automaps.journeys import handoff
    from automaps.maps.resolve import resolve, skips
    from automaps.timing import WaitSpec, When

    action = request.when is not None
    spec = When.model_validate(request.when) if action else WaitSpec.model_validate(request.wait)
    store = ContactStore()
    with transient_errors_retried():
        contact = store.get(request.contact_id)
        fields, timezone = (contact.fields, contact.timezone) if contact else ({}, None)
        now = clock.now()
        moment = resolve(spec, fields, timezone, request.fallback_timezone, now)
        skip = skips(spec, moment, action=action)
        if moment.missed:
            logger.info("the moment cannot be kept", extra={"reason": moment.missed, "skip": skip})
        at = moment.at if moment.missed else spread_of(request, spec, moment.at, timezone, now)
        if contact and moment.missed and (skip or moment.no_date):
            then = _THEN["action"] if action else _THEN["skip" if skip else "run"]
            detail = {"reason": moment.missed, "then": then, "enrollment_id": request.enrollment_id}
            record_for_visit(
                store, request.visit, contact.id, "step.skipped", detail, map_id=request.map_id, step_id=request.step_id
            )
        if request.enrollment_id:
            enter(request, until=clock.iso(at))
            if not skip and request.visit is not None and handoff.due(at, request.hand_off_after):
                handoff.hand_off(request, at, request.visit.key)  # ends this run (Superseded)
    return {"at": clock.iso(at), "skip": skip}


def spread_of(request: WaitRequest, spec: Any, at: datetime, contact_timezone: str | None, now: datetime) -> datetime:
    """``at`` spread for this contact when it is a moment contacts share: a time of day, a window's
    opening or weekdays that moved it, a date (``until``, ``until_field``); a delay alone is each
    contact's own. The window: the step's ``spread``, else the map's (``waits.spread``), else the
    stack's (``WAIT_SPREAD_SECONDS``); the moment stays inside a ``between`` window and out of the
    map's quiet hours."""
    from automaps import config
    from automaps.maps.resolve import spread_bound
    from automaps.timing import spread

    if spec.spread is not None:
        window = spec.spread.total_seconds
    else:
        window = request.spread if request.spread is not None else config.wait_spread()
    if window <= 0 or not spec.synchronized:
        return at
    shared = bool(spec.until or spec.until_field) or at != now + timedelta(seconds=spec.delay_seconds)
    if not shared or at <= now:
        return at
    before = spread_bound(spec, at, contact_timezone, request.fallback_timezone, request.sending)
    return spread(at, window, request.contact_id, request.map_id, request.step_id, before=before)


class TaskError(BaseModel):
    """``$.error`` as a Catch leaves it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    Error: str = "States.Unknown"
    Cause: str | None = None


class FailureRecord(_Task):
    """``record_failure``: a step failed after its retries; record it and let the contact move on."""

    error: TaskError = Field(default_factory=TaskError)


class ExitRequest(_Task):
    """``exit_map``: the contact leaves the map (``end``: an end step; ``completed``: ran out of
    steps; ``wait_failed``: a wait could not be resolved, with the ``error`` its Task failed with)."""

    reason: str = Field(default="completed", min_length=1, max_length=100)
    error: TaskError | None = None
    stay: bool = False
    """A sequence whose contacts stay subscribed after its last step: they wait (until removed)."""
    execution_id: str | None = None
    state_name: str | None = None
    state_entered_time: str | None = None
    continue_at: str | None = None
    """Not an exit: a go_to loop ran its rounds for this run; the contact continues at this
    state in a new run (reason ``loop_continues``), so no run nears 25,000 events or a year."""


def check_condition(check: ConditionCheck) -> dict[str, Any]:
    """Decide the check for the contact; records ``condition.evaluated`` with the inputs (once
    per visit). Throttling leaves as ``TransientError``, for the Task's Retry."""
    store = ContactStore()
    with transient_errors_retried():
        contact = store.get(check.contact_id)
        if contact is None:
            logger.warning("contact no longer exists; condition taken as false")
            return check.no_contact_answer()
        enter(check)
        return decide(check, contact, store, map_id=check.map_id, enrollment_id=check.enrollment_id, visit=check.visit)


def decide(
    check: Check, contact: Any, store: ContactStore, *, map_id: str, enrollment_id: str, visit: Visit | None = None
) -> dict[str, Any]:
    """Evaluate ``check`` for ``contact`` now and record one ``condition.evaluated`` entry.

    Shared by the check_condition task and by an action step that decides the ``if`` or
    ``switch`` right after it (the compiler folds such a check into the action's invocation).
    """
    from automaps.conditions import adapter
    from automaps.conditions.evaluate import evaluate
    from automaps.conditions.facts import Facts

    facts = Facts(contact, clock.now(), map_id=map_id, fallback_timezone=check.fallback_timezone, store=store)
    if check.condition is not None:
        result, inputs = evaluate(adapter().validate_python(check.condition), facts)
        answer: dict[str, Any] = {"result": result}
        detail = {"result": result, "inputs": inputs, "condition": check.condition}
    else:
        evaluated, chosen = [], -1
        for i, case in enumerate(check.cases or []):
            result, inputs = evaluate(adapter().validate_python(case), facts)
            evaluated.append({"case": i, "condition": case, "result": result, "inputs": inputs})
            if result:
                chosen = i
                break
        answer, detail = {"case": chosen}, {"case": chosen, "result": chosen >= 0, "cases": evaluated}
    record_for_visit(
        store,
        visit,
        contact.id,
        "condition.evaluated",
        {**detail, "enrollment_id": enrollment_id},
        map_id=map_id,
        step_id=check.step_id,
    )
    return answer


def record_failure(failure: FailureRecord) -> None:
    """Record what the failed step did, as its effect markers tell (automaps.journeys.effects):

    * no effect started (or the newest visit with effects had finished): ``step.failed``;
    * one started but never answered: ``step.outcome_unknown`` (it is not sent again);
    * the error is a classified one (``TransientError`` after retries): the effects done before
      it get their history entries, then ``step.failed`` naming them;
    * a crash or timeout (``Sandbox.Timedout``, ``States.Timeout``, ...) after every effect was
      done: their history entries (``email.sent`` with its message id) and ``step.done``.
    """
    from automaps.journeys import effects

    store = ContactStore()
    if store.get(failure.contact_id) is None:
        logger.warning("contact no longer exists; failure not recorded", extra={"error": failure.error.Error})
        return
    error, cause = failure.error.Error, summarise_cause(failure.error.Cause)
    base: dict[str, Any] = {"error": error, "cause": cause, "enrollment_id": failure.enrollment_id}
    visit = effects.newest_visit(failure.contact_id, failure.enrollment_id, failure.step_id or "")
    if visit is not None and not visit.finished:
        visit.write_history(failure.contact_id)
        done = [m.effect for m in visit.markers if m.status == effects.DONE]
        open_ = [m for m in visit.markers if m.status != effects.DONE]
        base["visit"] = visit.markers[0].visit
        if open_:
            kind = "step.outcome_unknown"
            reason = (
                open_[0].reason or f"{open_[0].effect} was started and the function stopped before its answer ({error})"
            ) + "; not resent"
            base["effect"] = open_[0].effect
        elif error == "TransientError":
            kind, reason = "step.failed", f"{error} after retries"
            base["effects_done"] = done
        else:
            kind, reason = "step.done", f"done; the function stopped after its effects ({error})"
            base["effects_done"] = done
        store.record(
            failure.contact_id, kind, {"reason": reason, **base}, map_id=failure.map_id, step_id=failure.step_id
        )
        logger.info("failed step recorded from its effects", extra={"error": error, "kind": kind})
        return
    store.record(
        failure.contact_id,
        "step.failed",
        {"reason": f"{error} after retries", **base},
        map_id=failure.map_id,
        step_id=failure.step_id,
    )
    logger.info("step failure recorded", extra={"error": error})


def exit_map(request: ExitRequest) -> bool:
    """Mark the enrollment exited, record ``map.exited`` and free the contact's entry into the
    map (entry rule ``after_exit``). Idempotent: False, nothing recorded, when it had already
    exited or does not exist."""
    from automaps.journeys import enrollment, moves  # (lazily: the other tasks of this module need neither)

    store = ContactStore()
    if request.continue_at:
        continue_in_new_run(request)
        return False
    with transient_errors_retried():
        enter(request)
        if request.stay and request.execution_id:
            from automaps.journeys import positions

            positions.park(request.contact_id, request.map_id, request.enrollment_id, request.execution_id)
            record_for_visit(
                store,
                Visit.of(request.model_dump()),
                request.contact_id,
                "sequence.finished",
                {"enrollment_id": request.enrollment_id, "then": "stays subscribed until removed"},
                map_id=request.map_id,
                step_id=request.step_id,
            )
            return False
        try:
            exited = store.mark_exited(
                request.contact_id, request.map_id, request.enrollment_id, request.reason, run=request.execution_id
            )
        except EnrollmentNotFound:
            logger.warning("no such enrollment (contact deleted?); nothing to exit")
            exited = False
        if exited:
            detail: dict[str, Any] = {"reason": request.reason, "enrollment_id": request.enrollment_id}
            if request.error is not None:
                detail |= {"error": request.error.Error, "cause": summarise_cause(request.error.Cause)}
            store.record(request.contact_id, "map.exited", detail, map_id=request.map_id, step_id=request.step_id)
        left = store.get_enrollment(request.contact_id, request.map_id, request.enrollment_id)
        if left is None or left.status == "exited":  # (not when another run holds the enrollment now)
            enrollment.release(request.contact_id, request.map_id, request.enrollment_id)
        if left is not None and left.status == "exited":
            moves.return_to_caller(left, request.reason)
    return exited


def continue_in_new_run(request: ExitRequest) -> None:
    """The loop's rounds for this run are spent: move the contact to ``continue_at`` in a new run
    (one move, named after this visit: a retry finishes it), record ``loop.continued`` once and
    end this run (the Task goes on to "Left"; a run that no longer holds the contact is refused
    by the fence: Superseded)."""
    from automaps.journeys import enrollment, moves
    from automaps.journeys.positions import Position

    visit = Visit.of(request.model_dump())
    if request.continue_at is None or visit is None:
        raise ValueError("continuing a loop needs continue_at and the visit (execution_id, state_entered_time)")
    store = ContactStore()
    cause = f"loop\n{visit.key}"
    record = enrollment.map_record(request.map_id)
    with transient_errors_retried():
        current = store.get_enrollment(request.contact_id, request.map_id, request.enrollment_id)
        if current is None or record is None:
            logger.warning("the enrollment or its map is gone: nothing to continue")
            return
        if current.run != moves.run_arn(record, request.enrollment_id, cause):  # not moved by an earlier attempt
            enter(request)  # the fence: this run must still hold the contact
            current = store.get_enrollment(request.contact_id, request.map_id, request.enrollment_id)
            assert current is not None
            to = Position(step=request.step_id or "", state=request.continue_at, kind="step", since=clock.iso())
            moves.move(current, cause, to=to, status="active", allowed=("active",), stop_old=False)
        else:
            moves.finish_pending(current, stop_old=False)
        store.record_once(
            request.contact_id,
            f"loop.continued\n{cause}",
            "loop.continued",
            {"state": request.continue_at, "enrollment_id": request.enrollment_id},
            map_id=request.map_id,
            step_id=request.step_id,
            at=clock.now(),
        )
    logger.info("the loop continues in a new run", extra={"state": request.continue_at})


def summarise_cause(cause: str | None, limit: int = CAUSE_LIMIT) -> str:
    """A Lambda error's Cause is JSON with a stack trace: keep its type and message, truncated."""
    if not cause:
        return ""
    try:
        parsed = json.loads(cause)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        cause = f"{parsed.get('errorType', 'Error')}: {parsed['errorMessage']}"
    return cause if len(cause) <= limit else cause[: limit - 1] + "…"
