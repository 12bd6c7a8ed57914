"""Moving a contact inside and between maps: one mechanism, "continue from state S".

Goals, pause/unpause, the return from another map (and, later, long waits handed to a scheduler
and live-edit migration) all resume a contact at a state of their map. The contact's position of
record is on the enrollment (``ENROLL#`` item: ``run``, ``status``, ``position``;
automaps.journeys.positions); every compiled map can be entered at any top-level Task, Wait,
Pass or Parallel state through its first Choice ("Resume?": ``$.resume.state``), with the time
a resumed wait still has in ``$.timers.<key>.at``.

A move is, in this order:
1. one conditional write on the enrollment: the next ``run`` (an execution ARN derived from the
   enrollment and the move's cause, so a move retried or delivered twice names the same run),
   ``status`` and ``position``, conditional on the run and status read before: of two moves at
   once, one wins and the other is a recorded no-op;
2. StopExecution of the old run, when one may still be executing (a goal jump, a pause in a wait);
   whatever it still tries is refused by the fence;
3. StartExecution of the next run (idempotent by its name), for an active contact.
A retry finds ``run`` already set to its own next run and finishes 2 and 3.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from automaps import aws, clock
from automaps.journeys import enrollment as enrollments
from automaps.journeys import positions
from automaps.journeys.positions import LIVE, Position, enrollment_key, update_if
from automaps.store.contacts import ContactStore, Enrollment

logger = Logger(child=True)

WAITING_KINDS = ("wait", "goal", "wait_until")
"""Positions where a run sits (in a Wait state): a pause stops that run at once."""


class MoveRefused(RuntimeError):
    """The enrollment changed under the move (another move won): nothing was done."""


# ------------------------------------------------------------------ finding enrollments


def live_enrollment(contact_id: str, map_id: str) -> Enrollment | None:
    """The contact's live (active, paused or waiting) enrollment in ``map_id``, newest first."""
    found = [e for e in ContactStore().enrollments(contact_id, map_id) if e.status in LIVE]
    return max(found, key=lambda e: e.started_at) if found else None


def run_arn(record: enrollments.MapRecord, enrollment_id: str, cause: str) -> str:
    """The execution ARN of the run a move starts: deterministic in (enrollment, cause)."""
    digest = hashlib.sha256(f"{enrollment_id}\n{cause}".encode()).hexdigest()[:32]
    name = f"{record.id[:44]}-m{digest}"
    return enrollments.execution_arn(record.state_machine_arn, name)


# ------------------------------------------------------------------ the one mechanism


def move(
    enrollment: Enrollment,
    cause: str,
    *,
    to: Position | None,
    status: str,
    allowed: tuple[str, ...] = LIVE,
    stop_old: bool = True,
    keep_run: bool = False,
    extra: dict[str, Any] | None = None,
) -> str | None:
    """Move the enrollment to ``to`` with ``status``; an ``active`` status starts a run there.
    Returns the new run's ARN (None when no run starts). Without a new run, ``run`` is emptied
    (no execution holds the contact: any that still runs is refused at its next fence), unless
    ``keep_run`` (a pause: the run still executing between steps finds the pause at its fence).
    Raises MoveRefused when the enrollment is no longer as read (another move won) or not in an
    ``allowed`` status."""
    record = enrollments.map_record(enrollment.map_id)
    if record is None:
        raise MoveRefused(f"the map {enrollment.map_id!r} is not deployed (anymore)")
    new_run = run_arn(record, enrollment.enrollment_id, cause) if status == "active" and to else ""
    if new_run and to is not None and not _resumable(record, to):
        raise MoveRefused(
            f"the current version of {enrollment.map_id!r} has no state {to.state!r} to resume at (the position "
            "is of a version the registry does not know): left as it is rather than started from the top"
        )
    claimed = _claim(enrollment, None if keep_run else new_run, to, status, allowed, extra or {})
    if claimed:  # the steps' waiting gauge (automaps.journeys.stats): left a wait, or entered one
        positions.record_waiting(
            enrollment.contact_id, enrollment.map_id, enrollment.enrollment_id, enrollment.position, to
        )
    if not claimed:
        current = ContactStore().get_enrollment(enrollment.contact_id, enrollment.map_id, enrollment.enrollment_id)
        if current is None or not new_run or current.run != new_run:
            raise MoveRefused(
                f"the contact's enrollment in {enrollment.map_id!r} changed ({current.status if current else 'gone'})"
            )
        logger.info("move already claimed by an earlier attempt; finishing it")
    if stop_old and enrollment.run and enrollment.run != new_run:
        stop(enrollment.run, cause)
    if new_run and to is not None:
        _start(record, enrollment, new_run, to)
    return new_run or None


def _resumable(record: enrollments.MapRecord, to: Position) -> bool:
    """Whether a run started at ``to`` enters its state: a run on the version the position names
    does; on the map's current version (the alias), only a state that version has (a state it lacks
    would send the run to the map's first step: everything again)."""
    if enrollments.run_on(record, to.map_version) != record.state_machine_arn or not record.resumable:
        return True
    return to.state in record.resumable


def _claim(
    enrollment: Enrollment,
    new_run: str | None,
    to: Position | None,
    status: str,
    allowed: tuple[str, ...],
    extra: dict[str, Any],
) -> bool:
    """The move's one conditional write (``new_run`` None: ``run`` stays as it is)."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {":status": status, ":old": enrollment.run or ""}
    sets = ["#status = :status"]
    if new_run is not None:
        sets.insert(0, "run = :run")
        values[":run"] = new_run
    if to is not None:
        sets.append("#position = :position")
        values[":position"] = to.item()
    for i, (attribute, value) in enumerate(sorted(extra.items())):
        names[f"#x{i}"] = attribute
        values[f":x{i}"] = value
        sets.append(f"#x{i} = :x{i}")
    allowed_values = {f":s{i}": s for i, s in enumerate(allowed)}
    values |= allowed_values
    held = "run = :old" if enrollment.run else "(attribute_not_exists(run) OR run = :old)"
    condition = f"attribute_exists(pk) AND {held} AND #status IN ({', '.join(allowed_values)})"
    key = enrollment_key(enrollment.contact_id, enrollment.map_id, enrollment.enrollment_id)
    return update_if(key, "SET " + ", ".join(sets), condition, values, names)


def stop(execution_arn: str, cause: str) -> None:
    """StopExecution, where the run may still be executing; a run already ended is fine."""
    try:
        aws.client("stepfunctions").stop_execution(
            executionArn=execution_arn, error="Automaps.Moved", cause=cause.replace("\n", " ")[:200]
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("ExecutionDoesNotExist", "ExecutionNotRunning", "InvalidArn"):
            raise


def _start(record: enrollments.MapRecord, enrollment: Enrollment, run: str, to: Position) -> None:
    payload: dict[str, Any] = {
        "contact_id": enrollment.contact_id,
        "enrollment_id": enrollment.enrollment_id,
        "map_id": enrollment.map_id,
        "resume": {"state": to.state, "step": to.step},
    }
    if to.timer and to.until:
        payload["timers"] = {to.timer: {"at": to.until}}
    try:
        aws.client("stepfunctions").start_execution(
            stateMachineArn=enrollments.run_on(record, to.map_version),  # the version the contact is on
            name=run.rsplit(":", 1)[1],
            input=json.dumps(payload, sort_keys=True),
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ExecutionAlreadyExists":
            raise
    ContactStore().set_execution_arn(enrollment.contact_id, enrollment.map_id, enrollment.enrollment_id, run)


def finish_pending(enrollment: Enrollment, *, stop_old: bool = True) -> bool:
    """A move whose write landed but whose StartExecution did not (the router's record failed and
    comes back; a Lambda died): ``run`` is not the execution last started. Start it now, at the
    position (idempotent: the run's name is fixed; an execution of that name already started is
    fine), after stopping the old run unless ``stop_old`` is False (the old run is the caller,
    which ends by itself). True when there was such a move."""
    if enrollment.status != "active" or not enrollment.run or enrollment.run == enrollment.execution_arn:
        return False
    if not enrollment.position or enrollment.run.rsplit(":", 1)[1] == enrollments.execution_name(
        enrollment.map_id, enrollment.enrollment_id
    ):
        return False  # the enrollment's first run (enroll sets execution_arn after its start)
    record = enrollments.map_record(enrollment.map_id)
    if record is None:
        return False
    if enrollment.execution_arn and stop_old:
        stop(enrollment.execution_arn, "finishing a move")
    _start(record, enrollment, enrollment.run, Position.model_validate(enrollment.position))
    return True


def record_once(
    enrollment: Enrollment, cause: str, kind: str, detail: dict[str, Any], *, map_id: str | None = None
) -> None:
    ContactStore().record_once(
        enrollment.contact_id,
        f"{kind}\n{cause}",
        kind,
        {**detail, "enrollment_id": enrollment.enrollment_id},
        map_id=map_id or enrollment.map_id,
        step_id=(enrollment.position or {}).get("step"),
        at=clock.now(),
    )


# ------------------------------------------------------------------ the moves


def resume_at(enrollment: Enrollment, cause: str, to: Position, *, allowed: tuple[str, ...] = LIVE) -> str | None:
    """Continue the contact at ``to``: a new run there, or, for a paused contact, the position
    only (they stay paused; unpausing continues from it)."""
    if enrollment.status == "paused":
        move(enrollment, cause, to=to.model_copy(update={"stopped": True}), status="paused", allowed=("paused",))
        return None
    return move(enrollment, cause, to=to, status="active", allowed=allowed, stop_old=enrollment.status == "active")


def leave(enrollment: Enrollment, cause: str, reason: str, *, step_id: str | None = None) -> bool:
    """The contact leaves the map now (removed, a map goal): the run stops, the enrollment exits,
    ``map.exited`` is recorded, the entry gate is released and a caller waiting for the return
    continues. False when the enrollment had already left."""
    try:
        move(
            enrollment,
            cause,
            to=None,
            status="exited",
            stop_old=enrollment.status == "active",
            extra={"exit_reason": reason, "exited_at": clock.iso()},
        )
    except MoveRefused:
        current = ContactStore().get_enrollment(enrollment.contact_id, enrollment.map_id, enrollment.enrollment_id)
        if current is None or current.status != "exited" or current.exit_reason != reason:
            return False
        enrollment = current  # an earlier attempt of this move: finish it
    record_once(enrollment, cause, "map.exited", {"reason": reason, **({"step_id": step_id} if step_id else {})})
    enrollments.release(enrollment.contact_id, enrollment.map_id, enrollment.enrollment_id)
    left = ContactStore().get_enrollment(enrollment.contact_id, enrollment.map_id, enrollment.enrollment_id)
    if left is not None:
        return_to_caller(left, reason)
    return True


def pause(enrollment: Enrollment, cause: str) -> bool:
    """Pause the contact where they are; False (a no-op) when already paused. A run sitting in a
    wait or at a goal is stopped now; a run between steps stops at its next step's fence."""
    if enrollment.status == "paused":
        return False
    position = Position.model_validate(enrollment.position) if enrollment.position else None
    sitting = enrollment.status == "waiting" or (position is not None and position.kind in WAITING_KINDS)
    held = position.model_copy(update={"stopped": True}) if position is not None and sitting else position
    try:
        move(
            enrollment,
            cause,
            to=held,
            status="paused",
            allowed=("active", "waiting"),
            stop_old=False,
            keep_run=True,
            extra={"paused_at": clock.iso(), "paused_from": enrollment.status},
        )
    except MoveRefused:
        return False
    if sitting and enrollment.run and enrollment.status == "active":
        stop(enrollment.run, cause)  # ``run`` stays: the fence refuses it anyway
    return True


def unpause(enrollment: Enrollment, cause: str) -> bool:
    """Continue a paused contact from their position; False (a no-op) when not paused.

    * stopped (in a wait, at a goal, at a fence): a new run from the position; a wait whose
      moment passed while paused ends at once, a goal or wait_until checks again;
    * still between two steps (the pause has not reached a fence yet): the run simply goes on;
    * waiting for a return (or at a goal without timeout): waiting again, without a run.
    """
    if enrollment.status != "paused":
        return False
    position = dict(enrollment.position or {})
    stopped = position.pop("stopped", False)
    was = enrollment.paused_from
    to = Position.model_validate(position) if position else None
    try:
        if to is not None and to.kind == "return":
            move(enrollment, cause, to=to, status="waiting", allowed=("paused",), stop_old=False)
        elif stopped and to is not None:
            move(enrollment, cause, to=to, status="active", allowed=("paused",), stop_old=False)
        elif was == "waiting" and to is not None:
            move(enrollment, cause, to=to, status="waiting", allowed=("paused",), stop_old=False)
        else:
            _reactivate(enrollment)
    except MoveRefused:
        return False
    return True


def _reactivate(enrollment: Enrollment) -> None:
    """The run was still executing between steps when paused: let it go on (same run)."""
    key = enrollment_key(enrollment.contact_id, enrollment.map_id, enrollment.enrollment_id)
    if update_if(
        key,
        "SET #status = :active",
        "#status = :paused AND run = :run AND attribute_not_exists(#position.stopped)",
        {":active": "active", ":paused": "paused", ":run": enrollment.run or ""},
    ):
        return
    # the run reached its fence meanwhile and stopped: continue from where it stopped
    current = ContactStore().get_enrollment(enrollment.contact_id, enrollment.map_id, enrollment.enrollment_id)
    if current is None or current.status != "paused":
        raise MoveRefused("the enrollment changed while unpausing")
    unpause(current, f"{enrollment.run}\nfenced")


def not_entered(contact_id: str, sort_key: str, entry: Any) -> None:
    """An ``automation.added`` entry with ``return_to`` that started no run of its map (its trigger's
    ``only_if`` or ``from`` refused the contact, or the chain limit): the caller continues at once."""
    return_to = entry.detail.get("return_to")
    if not isinstance(return_to, dict):
        return
    refused = Enrollment(
        contact_id=contact_id,
        map_id=str(entry.detail.get("map")),
        enrollment_id=enrollments.enrollment_id_for(str(entry.detail.get("map")), contact_id, sort_key),
        status="exited",
        started_at=entry.at,
        event={"return_to": return_to},
    )
    return_to_caller(refused, "not_entered")


def return_to_caller(enrollment: Enrollment, reason: str) -> None:
    """The contact left ``enrollment``'s map: a map that added them with ``return: true`` (its
    ``return_to`` on the enrollment's event) continues at the step after its add step."""
    caller_ref = enrollment.event.get("return_to")
    if not isinstance(caller_ref, dict):
        return
    store = ContactStore()
    caller = store.get_enrollment(
        enrollment.contact_id, str(caller_ref.get("map_id")), str(caller_ref.get("enrollment_id"))
    )
    if caller is None or caller.status not in LIVE:
        return
    held = caller.position or {}
    if held.get("kind") != "return" or held.get("step") != caller_ref.get("step_id"):
        return
    cause = f"return\n{enrollment.enrollment_id}"
    to = Position(step=str(held["step"]), state=str(held["state"]), kind="step", since=clock.iso())
    try:
        if caller.status == "paused":
            move(caller, cause, to=to.model_copy(update={"stopped": True}), status="paused", allowed=("paused",))
        else:
            move(caller, cause, to=to, status="active", allowed=("waiting",), stop_old=False)
    except MoveRefused:
        logger.info("the caller is no longer waiting for this return")
        return
    record_once(
        caller,
        cause,
        "automation.returned",
        {"map": caller.map_id, "from_map": enrollment.map_id, "reason": reason},
    )


# ------------------------------------------------------------------ the actions that move contacts


def _target(ctx: Any, map_id: str, kinds: tuple[str, ...], what: str) -> enrollments.MapRecord:
    from automaps.errors import PermanentError

    if map_id == ctx.event.map_id:
        raise PermanentError(f"a map cannot {what} itself; use end (or go_to) inside the map instead")
    record = enrollments.map_record(map_id)
    if record is None:
        raise PermanentError(f"no map {map_id!r} is deployed; check the id (automaps push deploys maps)")
    if record.kind not in kinds:
        raise PermanentError(f"{map_id!r} is a {record.kind.replace('_', '-')}, not a {' or '.join(kinds)}")
    return record


def add(ctx: Any, map_id: str, *, wait: bool, kinds: tuple[str, ...] = ("map",)) -> Any:
    """add_to_automation / add_to_sequence / start_follow_up: ``automation.added`` on the history
    (once per visit; the router enrolls the contact through the map's ``added_to_automation``
    trigger); with ``wait`` the contact first waits here for the return (position: the next step)."""
    from automaps.errors import PermanentError
    from automaps.journeys import once

    done = once.recorded(ctx)
    if done is not None:
        return done
    record = _target(ctx, map_id, kinds, "add a contact to")
    if record.kind == "map" and not any(t.type == "added_to_automation" for t in record.triggers):
        raise PermanentError(
            f"the map {map_id!r} has no added_to_automation trigger, so no map can add contacts to it; "
            "add `- added_to_automation: {}` to its triggers"
        )
    task = ctx.event
    waiting = wait and bool(task.next_state) and _wait_for_return(task)
    detail: dict[str, Any] = {"map": map_id, "by_map": task.map_id, "by_step": task.step_id, "waiting": waiting}
    if waiting:
        detail["return_to"] = {"map_id": task.map_id, "enrollment_id": task.enrollment_id, "step_id": task.step_id}
    ctx.store.record_effect(ctx.contact.id, once.effect(ctx, "automation.added"), detail)
    return ctx.outcome("done", **detail)


def _wait_for_return(task: Any) -> bool:
    """The caller waits (status ``waiting``, position: the state after the add step) before the
    other map can end; False when no enrollment holds the task (a direct invocation)."""
    store = ContactStore()
    caller = store.get_enrollment(task.contact_id, task.map_id, task.enrollment_id)
    if caller is None:
        return False
    held = caller.position or {}
    if caller.status == "waiting" and held.get("kind") == "return" and held.get("step") == task.step_id:
        return True  # a retry of this visit
    to = Position(step=task.step_id, state=task.next_state, kind="return", since=clock.iso(), stopped=True)
    if not update_if(
        enrollment_key(task.contact_id, task.map_id, task.enrollment_id),
        "SET #status = :waiting, #position = :position",
        "(attribute_not_exists(run) OR run = :run) AND #status = :active",
        {":waiting": "waiting", ":position": to.item(), ":run": task.execution_id, ":active": "active"},
    ):
        from automaps.errors import Superseded

        raise Superseded("the contact was moved before they could wait for the return")
    return True


def _live_in(ctx: Any, map_id: str) -> Enrollment:
    from automaps.errors import Skip

    live = live_enrollment(ctx.contact.id, map_id)
    if live is None:
        raise Skip(f"the contact is not in {map_id!r}", {"map": map_id})
    return live


def _recorded(ctx: Any, kind: str, map_id: str, **more: Any) -> Any:
    from automaps.journeys import once

    detail = {"map": map_id, "by_map": ctx.event.map_id, "by_step": ctx.event.step_id, **more}
    ctx.store.record_effect(ctx.contact.id, once.effect(ctx, kind), detail)
    return ctx.outcome("done", **detail)


def remove(ctx: Any, map_id: str, *, kinds: tuple[str, ...] = ("map",)) -> Any:
    """remove_from_automation / remove_from_sequence / stop_follow_up: the contact's run there stops
    and none of its further steps run; ``automation.removed`` here, ``map.exited`` (reason
    ``removed``) there; the gate is released; a map waiting for their return continues.

    The step's entry (with the enrollment) is recorded first, then the removal (idempotent, by the
    visit): a retry of a visit that recorded it finishes the removal instead of finding the
    contact gone and saying so."""
    from automaps.journeys import once

    cause = f"removed\n{ctx.event.idempotency_key}"
    done = once.recorded(ctx)
    if done is not None:
        _again(ctx, map_id, done.detail.get("enrollment"), lambda e: leave(e, cause, "removed"))
        return done
    _target(ctx, map_id, kinds, "remove a contact from")
    live = _live_in(ctx, map_id)
    outcome = _recorded(ctx, "automation.removed", map_id, enrollment=live.enrollment_id)
    leave(live, cause, "removed")
    return outcome


def _again(ctx: Any, map_id: str, enrollment_id: Any, finish: Any) -> None:
    """A retry of a visit that recorded its move: make the move (again; it is idempotent)."""
    if not isinstance(enrollment_id, str):
        return
    found = ContactStore().get_enrollment(ctx.contact.id, map_id, enrollment_id)
    if found is not None and found.status in LIVE:
        try:
            finish(found)
        except MoveRefused:
            logger.info("the move this visit recorded was made by someone else meanwhile")


def pause_in(ctx: Any, map_id: str, *, kinds: tuple[str, ...] = ("map",)) -> Any:
    """pause_automation / pause_sequence: the contact sits where they are in that map."""
    return _pausing(ctx, map_id, kinds, pausing=True)


def unpause_in(ctx: Any, map_id: str, *, kinds: tuple[str, ...] = ("map",)) -> Any:
    """unpause_automation / unpause_sequence: the contact continues from where they were paused."""
    return _pausing(ctx, map_id, kinds, pausing=False)


def _pausing(ctx: Any, map_id: str, kinds: tuple[str, ...], *, pausing: bool) -> Any:
    """Recorded first (with the enrollment), then made: a retry of the visit finishes it."""
    from automaps.errors import Skip
    from automaps.journeys import once

    cause = f"{'pause' if pausing else 'unpause'}\n{ctx.event.idempotency_key}"

    def make(live: Enrollment) -> bool:
        return pause(live, cause) if pausing else unpause(live, cause)

    done = once.recorded(ctx)
    if done is not None:
        _again(ctx, map_id, done.detail.get("enrollment"), make)
        return done
    _target(ctx, map_id, kinds, "pause" if pausing else "unpause")
    live = _live_in(ctx, map_id)
    if pausing and live.status == "paused":
        raise Skip(f"the contact is already paused on {map_id!r}", {"map": map_id})
    if not pausing and live.status != "paused":
        raise Skip(f"the contact is not paused on {map_id!r}", {"map": map_id})
    kind = "automation.paused" if pausing else "automation.unpaused"
    outcome = _recorded(ctx, kind, map_id, enrollment=live.enrollment_id, at_step=(live.position or {}).get("step"))
    make(live)
    return outcome
