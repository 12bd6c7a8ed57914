"""Long waits without an execution: handed to EventBridge Scheduler, resumed through the queue.

A wait whose end lies further than its map's ``waits.hand_off_after`` (default 7 days) away
does not hold an open execution for its whole length: its resolve task (resolve_wait), having
recorded the contact's position in the wait with its end (``until``), creates a one-time schedule
at that end (``ActionAfterCompletion: DELETE``) whose target is the EnrollQueue, with a
:class:`ResumeRequest` as the message; then it parks the enrollment (``waiting``, no run) and ends
the run (``Superseded`` -> "Left"). The queue's consumer (automaps.journeys.enroll_queue) hands the
request to :func:`resume`, which continues the contact at the wait through the one move mechanism
(automaps.journeys.moves): a new run enters the Wait state with ``$.timers.<key>.at`` = the end,
which is now or past, so it ends at once and the next step runs.

Once and only once: the schedule's name derives from the enrollment and the visit of the resolve
task (a retry finds it created), the resumed run's name from the schedule; a request whose
enrollment no longer waits at that wait until that end (moved by a goal, paused, removed) does
nothing, and a paused contact continues from the wait when unpaused.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Literal

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from automaps import aws, clock, config
from automaps.errors import Superseded

logger = Logger(child=True)


class ResumeRequest(BaseModel):
    """The EnrollQueue message a long wait's schedule sends at the wait's end."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["resume"] = "resume"
    contact_id: str
    map_id: str
    enrollment_id: str
    step: str
    until: str
    schedule: str


def schedule_name(enrollment_id: str, visit: str) -> str:
    """At most 64 characters of [0-9a-zA-Z-_.]: deterministic per visit of the resolve task."""
    return "w-" + hashlib.sha256(f"{enrollment_id}\n{visit}".encode()).hexdigest()[:48]


def due(at: datetime, hand_off_after: int | None, now: datetime | None = None) -> bool:
    """Whether a wait ending ``at`` is long enough to hand off (and the stack can)."""
    return (
        bool(hand_off_after)
        and config.waits_scheduler() is not None
        and ((at - (now or clock.now())).total_seconds() > (hand_off_after or 0))
    )


def hand_off(request: Any, at: datetime, visit: str) -> None:
    """Schedule the contact's resume at ``at``, park the enrollment, end this run (raises Superseded)."""
    from automaps.journeys import positions

    target = config.waits_scheduler()
    assert target is not None
    group, role, queue = target
    until = clock.iso(at)
    name = schedule_name(request.enrollment_id, visit)
    message = ResumeRequest(
        contact_id=request.contact_id,
        map_id=request.map_id,
        enrollment_id=request.enrollment_id,
        step=request.step_id,
        until=until,
        schedule=name,
    )
    try:
        aws.client("scheduler").create_schedule(
            Name=name,
            GroupName=group,
            ScheduleExpression=f"at({at.astimezone(clock.now().tzinfo):%Y-%m-%dT%H:%M:%S})",
            ScheduleExpressionTimezone="UTC",
            FlexibleTimeWindow={"Mode": "OFF"},
            ActionAfterCompletion="DELETE",
            Target={"Arn": queue, "RoleArn": role, "Input": message.model_dump_json()},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConflictException":  # created by an earlier attempt of this visit
            raise
    positions.park(request.contact_id, request.map_id, request.enrollment_id, request.execution_id)
    logger.info("wait handed to the scheduler", extra={"until": until, "schedule": name})
    raise Superseded(f"the wait until {until} is handed to the scheduler (schedule {name})")


def resume(request: ResumeRequest) -> str:
    """Continue the contact at the wait the schedule was for; what was done, for the log."""
    from automaps.journeys import moves
    from automaps.journeys.positions import Position
    from automaps.store.contacts import ContactStore

    enrollment = ContactStore().get_enrollment(request.contact_id, request.map_id, request.enrollment_id)
    held = (enrollment.position or {}) if enrollment else {}
    if enrollment is None or held.get("step") != request.step or held.get("until") != request.until:
        return "nothing: the contact no longer waits there"
    if enrollment.status == "paused":
        return "nothing yet: paused (unpausing continues from the wait)"
    if enrollment.status != "waiting" or held.get("kind") != "wait":
        return f"nothing: the enrollment is {enrollment.status}"
    to = Position.model_validate({**held, "stopped": None})
    try:
        moves.move(
            enrollment, f"schedule\n{request.schedule}", to=to, status="active", allowed=("waiting",), stop_old=False
        )
    except moves.MoveRefused as refused:
        return f"nothing: {refused}"
    return "resumed at the wait"


def parse(body: str) -> ResumeRequest | None:
    """A resume request, if the queue message is one."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return ResumeRequest.model_validate(data) if isinstance(data, dict) and data.get("kind") == "resume" else None
