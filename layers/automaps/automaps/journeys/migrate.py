"""Live edits: what a publish does to the contacts already inside a map.

A run started on version N of a map stays on version N (executions start on the map's alias, and
Step Functions pins an execution to the version it started on; a move resumes a contact on the
version its position records: automaps.journeys.enrollment.run_on). Publishing a new version takes
one of three policies for the contacts on older versions:

* ``keep`` (the default): nothing moves; they finish on their version.
* ``move``: each continues on the new version at the step it stands on (same step id), through the
  one resume mechanism (automaps.journeys.moves): a waiting contact keeps its wait's moment, a
  paused one stays paused there, one parked at a goal or a return stays parked. A contact on a
  step the new version no longer has continues at the next step of the old version's reading
  order that the new version has; when none is left, the contact leaves the map
  (``map.exited``, reason ``step_removed``).
* ``remove``: they leave the map (``map.exited``, reason ``version_removed``).

Every move is recorded once on the contact's history as ``map.migrated`` with both versions and
both steps. A publish run again (a crash, a retry) moves nobody twice: the moves are named after
the enrollment and the new version, and contacts already on it are skipped.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal

from aws_lambda_powertools import Logger
from pydantic import BaseModel, Field

from automaps.journeys import census, moves
from automaps.journeys.enrollment import MapRecord
from automaps.journeys.positions import Position
from automaps.store.contacts import ContactStore

logger = Logger(child=True)

Policy = Literal["keep", "move", "remove"]
POLICIES: tuple[str, ...] = ("keep", "move", "remove")


class Migration(BaseModel):
    """What a publish did to the contacts of older versions."""

    map_id: str
    policy: str
    to_version: str
    current: int = 0
    """Contacts already on the new version (not touched)."""
    kept: int = 0
    moved: int = 0
    left: int = 0
    """Contacts that left the map (``remove``; ``move`` from a step with no successor)."""
    refused: int = 0
    """Contacts whose enrollment changed under the move (another move won): untouched."""
    moves: Counter[str] = Field(default_factory=Counter)
    """``"<from step> -> <to step>"`` (or ``-> (left)``) -> contacts."""

    def summary(self) -> str:
        parts = [f"{self.moved} moved", f"{self.left} left", f"{self.kept} kept", f"{self.current} already current"]
        if self.refused:
            parts.append(f"{self.refused} refused (moved meanwhile)")
        return f"{self.map_id} -> {self.to_version} ({self.policy}): " + ", ".join(parts)


def resume_targets(definition: dict[str, Any]) -> list[str]:
    """The states a run of ``definition`` can be resumed at (its "Resume" Choice), in reading order."""
    choice = definition.get("States", {}).get("Resume", {})
    return [c["StringEquals"] for c in choice.get("Choices", []) if "StringEquals" in c]


def entry_states(definition: dict[str, Any]) -> dict[str, str]:
    """step label -> the first state of the step a resumed run can enter (a task's ``step_id``, or
    a state named after the step)."""
    states, found = definition.get("States", {}), dict[str, str]()
    for name in resume_targets(definition):
        payload = (states.get(name, {}).get("Parameters") or {}).get("Payload") or {}
        step = payload.get("step_id") if isinstance(payload, dict) else None
        found.setdefault(str(step or name), name)
    return found


def target(
    position: dict[str, Any], old_order: dict[str, int], definition: dict[str, Any], to_version: str
) -> Position | None:
    """Where a contact at ``position`` (of an older version) continues on the new version: the
    same state when the new version has it, else the step's first state there, else the first
    state of the next step of the old reading order that it has, else None (the contact leaves)."""
    stood = Position.model_validate(position)
    if stood.state in resume_targets(definition):
        return stood.model_copy(update={"map_version": to_version})
    entries = entry_states(definition)
    after = old_order.get(stood.step)
    following = sorted((order, step) for step, order in old_order.items() if after is not None and order > after)
    for step in [stood.step, *(step for _, step in following)]:
        if step in entries:
            return Position(step=step, state=entries[step], since=stood.since, map_version=to_version)
    return None


def _recorded_after_crash(
    record: MapRecord, live: census.LiveEnrollment, cause: str, policy: str, to_version: str
) -> None:
    """A contact this publish moved (its run is the move's, named after the cause) whose
    ``map.migrated`` an earlier attempt did not get to record: record it now (once)."""
    enrollment = ContactStore().get_enrollment(live.contact_id, record.id, live.enrollment_id)
    if enrollment is None or enrollment.run != moves.run_arn(record, live.enrollment_id, cause):
        return
    detail = {"policy": policy, "to_version": to_version, "to_step": live.step, "recorded_late": True}
    moves.record_once(enrollment, cause, "map.migrated", detail)


def migrate(
    old: MapRecord | None, definition: dict[str, Any], to_version: str, policy: str, *, map_id: str
) -> Migration:
    """Apply ``policy`` to every live contact of ``map_id`` whose position is not on
    ``to_version`` (``definition``: the new version's compiled definition; ``old``: the registry's
    record before the publish, for the old reading order)."""
    if policy not in POLICIES:
        raise ValueError(f"unknown migration policy {policy!r}: use one of {', '.join(POLICIES)}")
    report = Migration(map_id=map_id, policy=policy, to_version=to_version)
    order = old.order if old else {}
    cause = f"publish {map_id} {to_version}"
    store = ContactStore()
    for live in census.live_enrollments(map_id):
        if live.map_version == to_version:
            report.current += 1
            if policy != "keep" and old is not None:
                _recorded_after_crash(old, live, cause, policy, to_version)
            continue
        if policy == "keep":
            report.kept += 1
            continue
        enrollment = store.get_enrollment(live.contact_id, map_id, live.enrollment_id)
        if enrollment is None or not enrollment.position:
            report.refused += 1
            continue
        to = target(enrollment.position, order, definition, to_version) if policy == "move" else None
        step = str(enrollment.position.get("step"))
        try:
            if to is None:
                reason = "step_removed" if policy == "move" else "version_removed"
                moves.leave(enrollment, cause, reason, step_id=step)
            elif enrollment.status == "waiting":  # parked (a goal, a return): stays parked, on the new version
                moves.move(enrollment, cause, to=to, status="waiting", allowed=("waiting",))
            else:
                moves.resume_at(enrollment, cause, to)
        except moves.MoveRefused:
            report.refused += 1
            continue
        detail = {
            "policy": policy,
            "from_version": live.map_version,
            "to_version": to_version,
            "from_step": step,
            "to_step": to.step if to else None,
        }
        moves.record_once(enrollment, cause, "map.migrated", detail)
        if to is None:
            report.left += 1
        else:
            report.moved += 1
        report.moves[f"{step} -> {to.step if to else '(left)'}"] += 1
    logger.info("migration done", extra=report.model_dump(mode="json", exclude={"moves"}))
    return report
