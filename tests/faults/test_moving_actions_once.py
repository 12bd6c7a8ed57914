"""The actions that move contacts between maps repeat nothing under faults: add_to_automation,
remove_from_automation, pause_automation and unpause_automation, hit by a fault between their
effect and their answer (the answer of the step's transaction lost, that transaction throttled,
the idempotency save throttled) and run again for the same visit, or delivered twice, have made
their move once and recorded it once. On moto: the contacts table's stream delivers the entries
to the router, the EnrollQueue to the enroll function (tests/conftest.py, `aws`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from automaps import aws as aws_clients
from automaps.journeys import enrollment, moves
from automaps.journeys.enrollment import EntryRule, MapRecord, Trigger
from automaps.journeys.steps import TransientError
from automaps.store.contacts import Contact, ContactStore
from tests.actions.sending import a_contact, enrolled, task_event
from tests.faults.test_actions_once import FAULTS, fault, handle, in_progress_record_expired

PASS = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
TRIGGER = {"type": "form_submitted", "form": "newsletter"}


def _enrollments(c: Contact) -> list:
    return ContactStore().enrollments(c.id, "onboarding")


def _entries(c: Contact, kind: str, map_id: str | None = None) -> int:
    return len([e for e in ContactStore().history(c.id, [kind]) if map_id is None or e.map_id == map_id])


def _in_onboarding(c: Contact) -> None:
    record = enrollment.map_record("onboarding")
    assert record is not None
    enrollment.enroll(record, c.id, {"type": "test"}, "given")


def _paused(c: Contact) -> None:
    _in_onboarding(c)
    assert moves.pause(_enrollments(c)[0], "given pause")


@dataclass(frozen=True)
class Case:
    action: str
    moved: Callable[[Contact], bool]  # the move is made, exactly once
    kind: str  # the history entry of the step
    given: Callable[[Contact], None] = lambda _: None


CASES = [
    Case("add_to_automation", lambda c: len(_enrollments(c)) == 1 and _enrollments(c)[0].status == "active",
         "automation.added"),
    Case("remove_from_automation", lambda c: [e.exit_reason for e in _enrollments(c)] == ["removed"]
         and _entries(c, "map.exited", "onboarding") == 1, "automation.removed", _in_onboarding),
    Case("pause_automation", lambda c: [e.status for e in _enrollments(c)] == ["paused"], "automation.paused",
         _in_onboarding),
    Case("unpause_automation", lambda c: [e.status for e in _enrollments(c)] == ["active"], "automation.unpaused",
         _paused),
]


@pytest.fixture
def jane(aws, clock) -> Contact:
    """GIVEN Jane in welcome-leads, and an onboarding map other maps add contacts to."""
    arn = aws_clients.client("stepfunctions").create_state_machine(
        name="automaps-onboarding", definition=json.dumps(PASS), roleArn="arn:aws:iam::123456789012:role/x"
    )["stateMachineArn"]
    enrollment.register(MapRecord(
        id="onboarding", state_machine_arn=arn, version="v1", entry=EntryRule(reenter="after_exit"),
        triggers=[Trigger(type="added_to_automation", key="", spec={}, only_if=None)]))
    contact = a_contact("jane@example.com", first_name="Jane")
    enrolled(contact, task_event("add_note.json", contact), TRIGGER)
    return ContactStore().require(contact.id)


@pytest.mark.parametrize("fault_kind", list(FAULTS))
@pytest.mark.parametrize("case", CASES, ids=[case.action for case in CASES])
def test_given_a_fault_after_the_move_when_the_visit_is_retried_then_it_moved_once_and_is_recorded_once(
        jane, case: Case, fault_kind: str):
    case.given(jane)
    event = task_event(f"{case.action}.json", jane)

    with fault(fault_kind, **FAULTS[fault_kind]) as injected, pytest.raises(TransientError):
        handle(case.action, event)
    assert injected == [fault_kind]
    if fault_kind == "save throttled":
        in_progress_record_expired()
    retried = handle(case.action, event)

    assert retried["outcome"] == "done", retried
    assert case.moved(jane)
    assert _entries(jane, case.kind) == 1
    assert _entries(jane, "step.done") == 1


@pytest.mark.parametrize("case", CASES, ids=[case.action for case in CASES])
def test_given_a_moving_step_delivered_twice_then_it_moved_once_and_is_recorded_once(jane, case: Case):
    case.given(jane)
    event = task_event(f"{case.action}.json", jane)

    first, second = handle(case.action, event), handle(case.action, event)

    assert first["outcome"] == second["outcome"] == "done"
    assert case.moved(jane)
    assert _entries(jane, case.kind) == 1
