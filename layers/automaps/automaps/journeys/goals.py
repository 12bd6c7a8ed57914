"""Goals and ``wait_until``: what a contact waits for, checked when they arrive and when they change.

Two moments, both recorded (``goal.achieved`` / ``wait.met``, ``goal.timed_out`` / ``wait.timed_out``):

* **on arrival** (:func:`check_awaited`, the check_condition task of a goal or wait_until step):
  met now (a condition on the contact, or an event of the kind since the contact entered the
  map, matching ``where`` with the map's merge fields rendered) -> on; else the position says
  what is awaited and until when, and the run waits for the timeout (or, a goal without one,
  ends: the contact waits without a run);
* **when the contact changes** (:func:`route`, from the router, for every history entry that is
  not the journey's own bookkeeping): a contact waiting at a goal or wait_until whose awaited
  event or condition the entry brings continues after that step; a contact anywhere above a goal
  step of their map (earlier in reading order) that the entry achieves jumps past it, to the
  furthest such goal; a map-level goal takes the contact out of the map. A paused contact is moved
  too but stays paused (unpausing continues from the goal). Every move is keyed on the entry's
  sort key, so an entry delivered twice moves once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, Field

from automaps import clock
from automaps.journeys import enrollment as enrollments
from automaps.journeys import positions
from automaps.journeys.journey import Visited, enter, record_for_visit, transient_errors_retried
from automaps.store.contacts import Contact, ContactStore, Enrollment, HistoryEntry

logger = Logger(child=True)

BOOKKEEPING = frozenset(
    {
        "step.done",
        "step.skipped",
        "step.failed",
        "step.outcome_unknown",
        "step.deferred",
        "wait.entered",
        "wait.left",
        "condition.evaluated",
        "map.enrolled",
        "map.enroll_skipped",
        "map.exited",
        "goal.achieved",
        "goal.timed_out",
        "wait.met",
        "wait.timed_out",
        "automation.returned",
    }
)
"""History kinds the journey writes about itself: they never achieve a goal."""
TIMEOUT_TOLERANCE = timedelta(seconds=1)


class Awaits(BaseModel):
    """What a goal or wait_until step's task checks (compiled from the step)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    kind: Literal["goal", "wait_until"]
    condition: dict[str, Any] | None = None
    event: dict[str, Any] | None = None
    timeout_seconds: int | None = None

    @property
    def met_kind(self) -> str:
        return "goal.achieved" if self.kind == "goal" else "wait.met"

    @property
    def timed_out_kind(self) -> str:
        return "goal.timed_out" if self.kind == "goal" else "wait.timed_out"


class AwaitCheck(Visited):
    """The payload of a goal's or wait_until's check_condition task."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    contact_id: str = Field(min_length=1)
    enrollment_id: str = Field(min_length=1)
    map_id: str = Field(min_length=1)
    step_id: str = Field(min_length=1)
    awaits: Awaits
    position: dict[str, Any] | None = None
    until: str | None = None
    """Set on the recheck at the timeout (the Wait's own timestamp)."""


# ------------------------------------------------------------------ on arrival


def check_awaited(check: AwaitCheck) -> dict[str, Any]:
    """``{"result": met, "until": <timeout or null>, "timed_out": bool}``; records the outcome
    once per visit and, while waiting, the position with what is awaited."""
    store = ContactStore()
    with transient_errors_retried():
        contact = store.get(check.contact_id)
        if contact is None:
            return {"result": False, "until": None, "timed_out": True}
        enrollment = store.get_enrollment(check.contact_id, check.map_id, check.enrollment_id)
        awaited = rendered(check.awaits, contact, enrollment)
        met = _met_on_arrival(awaited, contact, enrollment, store)
        now = clock.now()
        until = check.until or (
            clock.iso(now + timedelta(seconds=check.awaits.timeout_seconds)) if check.awaits.timeout_seconds else None
        )
        timed_out = bool(not met and check.until and now + TIMEOUT_TOLERANCE >= datetime.fromisoformat(check.until))
        detail = {"enrollment_id": check.enrollment_id, "on": "arrival"}
        if met:
            enter(check)
            record_for_visit(
                store,
                check.visit,
                contact.id,
                check.awaits.met_kind,
                detail,
                map_id=check.map_id,
                step_id=check.step_id,
            )
        elif timed_out:
            enter(check)
            record_for_visit(
                store,
                check.visit,
                contact.id,
                check.awaits.timed_out_kind,
                {**detail, "until": until},
                map_id=check.map_id,
                step_id=check.step_id,
            )
        else:
            _wait_for(check, awaited, until)
    return {"result": met, "until": until, "timed_out": timed_out}


def _wait_for(check: AwaitCheck, awaited: dict[str, Any], until: str | None) -> None:
    """The position while waiting: what is awaited (for the router) and until when; a goal
    without a timeout leaves the contact waiting without a run."""
    if not check.execution_id:
        return
    position = positions.at(check.step_id, check.state_name or check.step_id, check.position, until=until).model_copy(
        update={"awaiting": awaited}
    )
    positions.enter(check.contact_id, check.map_id, check.enrollment_id, check.execution_id, position)
    if until is None:
        positions.park(check.contact_id, check.map_id, check.enrollment_id, check.execution_id)


def rendered(awaits: Awaits, contact: Contact, enrollment: Enrollment | None) -> dict[str, Any]:
    """What is awaited, with the merge fields of an event's ``where`` rendered for this contact
    (``{{ event.cart_id }}``: the event that started the map)."""
    if awaits.event is None:
        return {"condition": awaits.condition}
    from automaps import rendering

    context = rendering.merge_context(contact, enrollment.event if enrollment else {}, None)

    def render(value: Any) -> Any:
        if isinstance(value, str) and "{{" in value:
            return rendering.render(value, context, where="the awaited event's where")
        if isinstance(value, dict):
            return {k: render(v) for k, v in value.items()}
        if isinstance(value, list):
            return [render(v) for v in value]
        return value

    return {"event": {**awaits.event, "where": render(awaits.event.get("where") or {})}}


def _met_on_arrival(
    awaited: dict[str, Any], contact: Contact, enrollment: Enrollment | None, store: ContactStore
) -> bool:
    if awaited.get("condition") is not None:
        return _condition_holds(awaited["condition"], contact, store)
    from automaps.journeys.triggers import event_matches

    spec = awaited["event"]
    since = enrollment.started_at if enrollment else None
    return any(
        event_matches(spec, entry.kind, entry.detail, entry.at)
        for entry in store.events(contact.id, str(spec["kind"]), since=since)
    )


def _condition_holds(condition: dict[str, Any], contact: Contact, store: ContactStore, map_id: str = "") -> bool:
    from automaps.conditions import adapter
    from automaps.conditions.evaluate import evaluate
    from automaps.conditions.facts import Facts

    facts = Facts(contact, clock.now(), map_id=map_id or None, store=store)
    result, _ = evaluate(adapter().validate_python(condition), facts)
    return bool(result)


# ------------------------------------------------------------------ when the contact changes


def route(contact_id: str, sort_key: str, entry: HistoryEntry) -> list[str]:
    """Move every live enrollment of the contact whose goal or awaited event ``entry`` achieves;
    returns what was done (``"<map>: <goal or step>"``), for the log."""
    from automaps.journeys import moves

    if entry.kind in BOOKKEEPING:
        return []
    records = {
        r.id: r
        for r in enrollments.cached_maps()
        if (r.goals or r.map_goals or r.awaits) and (r.awaits_conditions or entry.kind in r.awaited_kinds)
    }
    if not records:
        return []  # no map waits for this kind of entry: nothing read
    store = ContactStore()
    live = [e for e in store.enrollments(contact_id) if e.status in positions.LIVE and e.map_id in records]
    done: list[str] = []
    contact: list[Contact | None] = []

    def the_contact() -> Contact | None:
        if not contact:
            contact.append(store.get(contact_id))
        return contact[0]

    for enrollment in live:
        record = records[enrollment.map_id]
        try:
            what = _route_one(record, enrollment, sort_key, entry, the_contact, store)
        except moves.MoveRefused as refused:
            logger.info("goal move refused", extra={"map_id": enrollment.map_id, "reason": str(refused)})
            continue
        if what:
            done.append(f"{enrollment.map_id}: {what}")
    return done


def _route_one(
    record: enrollments.MapRecord,
    enrollment: Enrollment,
    sort_key: str,
    entry: HistoryEntry,
    the_contact: Any,
    store: ContactStore,
) -> str | None:
    from automaps.journeys import moves

    if moves.finish_pending(enrollment):  # an earlier delivery moved them but could not start the run
        return "finished a pending move"
    position = enrollment.position or {}
    cause = f"entry\n{sort_key}"
    detail = {"entry": sort_key, "by": entry.kind}
    awaiting = position.get("awaiting")
    waits_here = position.get("kind") in ("goal", "wait_until") and bool(awaiting) and position.get("next")
    if waits_here and _achieves(awaiting or {}, entry, the_contact, store, record.id, enrollment):
        to = positions.Position(step=position["step"], state=position["next"], since=clock.iso())
        kind = "goal.achieved" if position["kind"] == "goal" else "wait.met"
        moves.record_once(enrollment, cause, kind, {**detail, "on": "change"})
        moves.resume_at(enrollment, cause, to)
        return f"{position['kind']} {position['step']} met"
    for goal in record.map_goals:
        if _achieves(goal, entry, the_contact, store, record.id, enrollment):
            moves.record_once(enrollment, cause, "goal.achieved", {**detail, "goal": goal["id"], "then": "exit"})
            moves.leave(enrollment, cause, f"goal:{goal['id']}")
            return f"map goal {goal['id']}: left the map"
    here = record.order.get(str(position.get("step", "")), -1) if position else -1
    below = [
        g for g in record.goals if g["order"] > here and _achieves(g, entry, the_contact, store, record.id, enrollment)
    ]
    if not below:
        return None
    goal = max(below, key=lambda g: g["order"])
    to = positions.Position(step=goal["step"], state=goal["next"], since=clock.iso())
    moves.record_once(  # the achievement first: a move that fails half-way is finished by the next delivery
        enrollment, cause, "goal.achieved", {**detail, "goal": goal["step"], "from_step": position.get("step")}
    )
    moves.resume_at(enrollment, cause, to)
    return f"goal {goal['step']} reached from {position.get('step')}"


def _achieves(
    awaited: dict[str, Any],
    entry: HistoryEntry,
    the_contact: Any,
    store: ContactStore,
    map_id: str,
    enrollment: Enrollment,
) -> bool:
    if awaited.get("event"):
        from automaps.journeys.triggers import event_matches

        spec = awaited["event"]
        if entry.kind != spec.get("kind"):
            return False
        if "{{" in str(spec.get("where") or ""):  # merge fields: rendered for this contact and enrollment
            contact = the_contact()
            if contact is None:
                return False
            spec = rendered(Awaits(kind="goal", event=spec), contact, enrollment)["event"]
        return event_matches(spec, entry.kind, entry.detail, entry.at)
    if awaited.get("condition") is None:
        return False
    contact = the_contact()
    return contact is not None and _condition_holds(awaited["condition"], contact, store, map_id)
