"""The position of record: where a contact stands in a map, kept on the enrollment in DynamoDB.

Every task of a journey (an action, a check, a wait's resolve, an exit) begins with :func:`enter`:
one conditional write on the contact's ``ENROLL#<map>#<enrollment>`` item that sets
``position`` (the step, the state a resumed run enters, since when, until when for a wait) and
holds only while this execution is the enrollment's ``run`` and the enrollment is ``active``.
That write is the fence of every move (automaps.journeys.moves): a goal jump, a pause, a
removal or a return first sets ``run`` (or ``status``), so whatever the old execution still tries
afterwards raises :class:`~automaps.errors.Superseded` and its Catch ends it in "Left"; nothing of
a superseded run happens, even when StopExecution is late or lost.

A paused contact stops at the next step that begins (its position is that step, not yet run),
except inside a fork branch (a pause takes effect after the fork: the branches run to their end)
and on a retry of a visit that already took effect (it finishes; the next step stops).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from automaps import aws, clock, config
from automaps.errors import Superseded
from automaps.store.contacts import ENROLL_PREFIX, ContactStore
from automaps.store.content import from_item, to_item

logger = Logger(child=True)

Kind = Literal["step", "wait", "goal", "wait_until", "return", "fork", "end"]
LIVE = ("active", "paused", "waiting")


class Position(BaseModel):
    """Where the contact stands: ``step`` (label) and ``state``, the state a resumed run enters
    (for a wait: its Wait state, which reads ``until`` from ``$.timers.<timer>.at``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    step: str
    state: str
    kind: Kind = "step"
    since: str
    until: str | None = None
    timer: str | None = None
    awaiting: dict[str, Any] | None = None
    """What a goal or ``wait_until`` step waits for (its event, with merge fields rendered)."""
    next: str | None = None
    """The state after the step (where a goal achieved or a wait_until met continues)."""
    stopped: bool | None = None
    """No run executes the contact now (a pause stopped it, or it stopped at a fence)."""
    map_version: str | None = None
    """The version of the map the run executes (the map's content hash; None: compiled before
    versions were recorded). A run started on version N stays on it (Step Functions pins it)."""

    def item(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class PositionSpec(BaseModel):
    """What the compiler puts in a task's payload under ``position``: the resumable state and kind
    of the step; the task adds ``since`` and ``until``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    kind: Kind = "step"
    state: str | None = None
    timer: str | None = None
    next: str | None = None
    map_version: str | None = None


def enrollment_key(contact_id: str, map_id: str, enrollment_id: str) -> dict[str, str]:
    return {"pk": f"CONTACT#{contact_id}", "sk": f"{ENROLL_PREFIX}{map_id}#{enrollment_id}"}


def update_if(
    key: dict[str, str], update: str, condition: str, values: dict[str, Any], names: dict[str, str] | None = None
) -> bool:
    """One conditional UpdateItem of an enrollment (``#status`` and ``#position`` are named when
    used); False when its condition does not hold."""
    try:
        aws.client("dynamodb").update_item(
            TableName=config.contacts_table(),
            Key=to_item(key),
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeNames={
                name: attribute
                for name, attribute in {"#status": "status", "#position": "position", **(names or {})}.items()
                if name in update or name in condition
            },
            ExpressionAttributeValues=to_item(values),
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return False
    return True


def enter(
    contact_id: str,
    map_id: str,
    enrollment_id: str,
    execution_id: str | None,
    position: Position,
    *,
    visit_took_effect: Callable[[], bool] | None = None,
    again: bool = True,
) -> dict[str, Any] | None:
    """Record that the contact's run ``execution_id`` begins ``position``; returns the position
    held before (None when there was none or no enrollment: a task run outside an enrollment,
    which nothing fences). Raises Superseded when this run no longer holds the contact."""
    if not execution_id:
        return None
    db, table = aws.client("dynamodb"), config.contacts_table()
    key = enrollment_key(contact_id, map_id, enrollment_id)
    try:
        answer = db.update_item(
            TableName=table,
            Key=to_item(key),
            UpdateExpression="SET #position = :position",
            ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(run) OR run = :run) "
            "AND #status = :active",
            ExpressionAttributeNames={"#position": "position", "#status": "status"},
            ExpressionAttributeValues=to_item(
                {":position": position.item(), ":run": execution_id, ":active": "active"}
            ),
            ReturnValues="ALL_OLD",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        found: dict[str, Any] = exc.response.get("Item") or {}  # type: ignore[assignment]
        if not found:
            return None
        return _refused(from_item(found), position, execution_id, key, visit_took_effect, again)
    old = from_item(answer.get("Attributes") or {})
    record_waiting(contact_id, map_id, enrollment_id, old.get("position"), position)
    return old.get("position")


WAITING_KINDS = ("wait", "goal", "wait_until")
"""Positions where a contact waits (a Wait state, a goal, a wait_until): the steps' ``waiting``
gauge; so does a position with ``until`` (an action waiting for its ``when``, a deferred send)."""


def defer(contact_id: str, map_id: str, enrollment_id: str, execution_id: str | None, step: str, until: str) -> None:
    """A send deferred by the map's sending limits waits at its step until ``until`` (the position
    keeps its kind; ``until`` marks the wait for the steps' ``waiting`` gauge). Only while this run
    holds the contact at that step; a count, so it never fails the step."""
    if not execution_id:
        return
    key = enrollment_key(contact_id, map_id, enrollment_id)
    try:
        answer = aws.client("dynamodb").update_item(
            TableName=config.contacts_table(),
            Key=to_item(key),
            UpdateExpression="SET #position.#until = :until",
            ConditionExpression="(attribute_not_exists(run) OR run = :run) AND #status = :active AND #position.#step = :step",
            ExpressionAttributeNames={"#position": "position", "#status": "status", "#until": "until", "#step": "step"},
            ExpressionAttributeValues=to_item(
                {":until": until, ":run": execution_id, ":active": "active", ":step": step}
            ),
            ReturnValues="ALL_OLD",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            logger.warning("deferred position not recorded", extra={"map_id": map_id, "step": step})
        return
    before = from_item(answer.get("Attributes") or {}).get("position") or {}
    after = Position.model_validate({**before, "until": until}) if before.get("since") else None
    record_waiting(contact_id, map_id, enrollment_id, before, after)


def record_waiting(
    contact_id: str, map_id: str, enrollment_id: str, before: dict[str, Any] | None, after: Position | None
) -> None:
    """The entries of the steps' ``waiting`` gauge (automaps.journeys.stats): ``wait.left`` when
    the contact stops waiting at a step, ``wait.entered`` when they start (a position of a waiting
    kind at another step). Written after the position changed, by the one write that changed it (a
    retry finds the position its first attempt wrote and records nothing); never fails the task."""
    was = before.get("step") if before and (before.get("kind") in WAITING_KINDS or before.get("until")) else None
    now = after.step if after is not None and (after.kind in WAITING_KINDS or after.until) else None
    if was == now:
        return
    try:
        store = ContactStore()
        if was:
            store.record(
                contact_id,
                "wait.left",
                {"enrollment_id": enrollment_id},
                map_id=map_id,
                step_id=was,
                enrollment_id=enrollment_id,
            )
        if now and after is not None:
            detail = {
                "enrollment_id": enrollment_id,
                "kind": after.kind,
                **({"until": after.until} if after.until else {}),
            }
            store.record(contact_id, "wait.entered", detail, map_id=map_id, step_id=now, enrollment_id=enrollment_id)
    except Exception:  # noqa: BLE001  (a count, never the journey: the history stays the record)
        logger.warning("waiting gauge entry not recorded", extra={"map_id": map_id, "was": was, "now": now})


def _refused(
    enrollment: dict[str, Any],
    position: Position,
    execution_id: str,
    key: dict[str, str],
    took_effect: Callable[[], bool] | None,
    again: bool = True,
) -> dict[str, Any] | None:
    run, status = enrollment.get("run"), enrollment.get("status")
    if run is not None and run != execution_id:  # "" : no run holds the contact (a move emptied it)
        raise Superseded("this run no longer holds the contact: a goal, a return or another map moved them on")
    if status == "paused":
        if position.kind == "fork" or (took_effect is not None and took_effect()):
            return enrollment.get("position")  # a pause takes effect after the fork / after this visit
        try:
            _set_paused_position(key, position, execution_id)
            record_waiting(str(key["pk"]).removeprefix("CONTACT#"), *_ids(key), enrollment.get("position"), position)
        except Unpaused:  # unpaused (or moved) at this very moment: look once more
            if again:
                return enter_again(enrollment, position, execution_id)
            raise Superseded("the contact was paused and moved at the same time") from None
        raise Superseded(f"paused on the map at step {position.step!r}")
    if status == "waiting":
        held = enrollment.get("position") or {}
        if held.get("step") == position.step:
            return held  # a retry of the step that made the contact wait (add_to_automation with return)
        raise Superseded(f"the contact waits at step {held.get('step')!r}")
    raise Superseded(f"the contact has left the map ({enrollment.get('exit_reason') or status})")


def _ids(key: dict[str, str]) -> tuple[str, str]:
    """(map id, enrollment id) of an enrollment's key."""
    map_id, enrollment_id = key["sk"].removeprefix(ENROLL_PREFIX).rsplit("#", 1)
    return map_id, enrollment_id


class Unpaused(Exception):
    """The contact was unpaused between the fence's refusal and the paused position's write."""


def enter_again(enrollment: dict[str, Any], position: Position, execution_id: str) -> dict[str, Any] | None:
    """:func:`enter` once more (the enrollment changed between the fence's refusal and the write
    that followed it); a second refusal is final."""
    contact_id = str(enrollment["pk"]).removeprefix("CONTACT#")
    map_id, enrollment_id = str(enrollment["sk"]).removeprefix(ENROLL_PREFIX).rsplit("#", 1)
    return enter(contact_id, map_id, enrollment_id, execution_id, position, again=False)


def _set_paused_position(key: dict[str, str], position: Position, execution_id: str) -> None:
    if not update_if(
        key,
        "SET #position = :position",
        "(attribute_not_exists(run) OR run = :run) AND #status = :paused",
        {":position": {**position.item(), "stopped": True}, ":run": execution_id, ":paused": "paused"},
    ):
        raise Unpaused


def at(
    step: str, state: str, spec: dict[str, Any] | None, since: str | None = None, until: str | None = None
) -> Position:
    """The position a task's payload describes (``spec``: its ``position``, from the compiler)."""
    parsed = PositionSpec.model_validate(spec or {})
    return Position(
        step=step,
        state=parsed.state or state,
        kind=parsed.kind,
        since=since or clock.iso(),
        until=until,
        timer=parsed.timer,
        next=parsed.next,
        map_version=parsed.map_version,
    )


def park(contact_id: str, map_id: str, enrollment_id: str, execution_id: str) -> None:
    """The run ends with the contact waiting at their position (a goal without a timeout, the
    return from another map): ``status`` waiting, no run executing them."""
    if not update_if(
        enrollment_key(contact_id, map_id, enrollment_id),
        "SET #status = :waiting, #position.stopped = :true",
        "(attribute_not_exists(run) OR run = :run) AND #status IN (:active, :waiting)",
        {":waiting": "waiting", ":true": True, ":run": execution_id, ":active": "active"},
    ):
        raise Superseded("the contact was moved while the run parked them")
