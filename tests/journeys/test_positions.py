"""The position of record and its fence (automaps.journeys.positions), with the moves that change
it (automaps.journeys.moves), on moto: a pause between two steps, an unpause that comes before or
after the run reaches its next step, and a run that a move emptied. The runs are StartExecution
calls on moto's Step Functions (recorded, not executed: the fence is what is under test)."""

from __future__ import annotations

import json

import pytest

from automaps import aws as aws_clients
from automaps import config
from automaps.errors import Superseded
from automaps.journeys import enrollment, moves, positions
from automaps.store.contacts import ContactStore

PASS = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}


@pytest.fixture
def enrolled(aws, clock):
    """GIVEN a contact enrolled in a registered map, their run at step 'welcome'."""
    arn = aws_clients.client("stepfunctions").create_state_machine(
        name="automaps-onboarding", definition=json.dumps(PASS), roleArn="arn:aws:iam::123456789012:role/x"
    )["stateMachineArn"]
    enrollment.register(enrollment.MapRecord(id="onboarding", state_machine_arn=arn, version="v1", triggers=[]))
    contact, _ = ContactStore().upsert_by_email("pos@example.com", {})
    record = enrollment.map_record("onboarding")
    result = enrollment.enroll(record, contact.id, {"type": "test"}, "cause")
    run = enrollment._execution_arn(record, result.enrollment_id)
    positions.enter(contact.id, "onboarding", result.enrollment_id, run, step("welcome"))
    return contact.id, result.enrollment_id, run


def step(label: str) -> positions.Position:
    return positions.Position(step=label, state=label, since="2026-11-23T14:00:00Z")


def current(contact_id: str, enrollment_id: str):
    return ContactStore().get_enrollment(contact_id, "onboarding", enrollment_id)


def runs() -> list[str]:
    arn = enrollment.map_record("onboarding").state_machine_arn
    return [e["name"] for e in aws_clients.client("stepfunctions").list_executions(stateMachineArn=arn)["executions"]]


def test_given_a_pause_between_steps_when_the_run_reaches_its_next_step_then_it_stops_there(enrolled):
    contact, enrollment_id, run = enrolled
    assert moves.pause(current(contact, enrollment_id), "pause")
    assert current(contact, enrollment_id).run == run, "a pause keeps the run: it finds the pause at its fence"

    with pytest.raises(Superseded, match="paused on the map at step 'tips'"):
        positions.enter(contact, "onboarding", enrollment_id, run, step("tips"))

    held = current(contact, enrollment_id)
    assert (held.status, held.position["step"], held.position["stopped"]) == ("paused", "tips", True)
    # WHEN unpaused: a new run continues at that step
    assert moves.unpause(held, "unpause")
    after = current(contact, enrollment_id)
    assert after.status == "active" and after.run != run and len(runs()) == 2


def test_given_a_pause_between_steps_when_unpaused_before_the_next_step_then_the_same_run_goes_on(enrolled):
    contact, enrollment_id, run = enrolled
    assert moves.pause(current(contact, enrollment_id), "pause")
    assert moves.unpause(current(contact, enrollment_id), "unpause")

    positions.enter(contact, "onboarding", enrollment_id, run, step("tips"))  # not refused

    after = current(contact, enrollment_id)
    assert (after.status, after.run, after.position["step"]) == ("active", run, "tips")
    assert len(runs()) == 1


def test_given_a_contact_removed_when_the_old_run_reaches_a_step_then_it_is_refused_once(enrolled):
    contact, enrollment_id, run = enrolled
    assert moves.leave(current(contact, enrollment_id), "removed", "removed")

    with pytest.raises(Superseded, match="no longer holds the contact"):
        positions.enter(contact, "onboarding", enrollment_id, run, step("tips"))
    assert current(contact, enrollment_id).status == "exited"


def test_given_a_pause_twice_then_the_second_is_a_no_op(enrolled):
    contact, enrollment_id, _ = enrolled
    assert moves.pause(current(contact, enrollment_id), "first")
    assert not moves.pause(current(contact, enrollment_id), "second")
    assert not moves.unpause(current(contact, enrollment_id).model_copy(update={"status": "active"}), "x")


def test_given_a_position_the_current_version_lacks_when_unpaused_then_no_run_starts_from_the_top(enrolled):
    # GIVEN the map re-registered: its current version resumes at 'welcome' and 'tips' only, and
    # the contact paused at a state of a version the registry does not know
    contact, enrollment_id, run = enrolled
    record = enrollment.map_record("onboarding")
    enrollment.register(record.model_copy(update={"resumable": ["welcome", "tips"]}))
    assert moves.pause(current(contact, enrollment_id), "pause")
    with pytest.raises(Superseded):
        positions.enter(contact, "onboarding", enrollment_id, run, step("old-reminder"))
    before = runs()

    # WHEN unpaused, THEN the move is refused (a recorded no-op): no run would enter 'old-reminder',
    # the map's first step would run instead; the contact stays paused there
    assert not moves.unpause(current(contact, enrollment_id), "unpause")
    held = current(contact, enrollment_id)
    assert (held.status, held.position["step"]) == ("paused", "old-reminder")
    assert runs() == before
    # AND a state the current version has resumes as before
    positions_item = {**held.position, "state": "tips", "step": "tips"}
    aws_clients.client("dynamodb").update_item(
        TableName=config.contacts_table(),
        Key={"pk": {"S": f"CONTACT#{contact}"}, "sk": {"S": f"ENROLL#onboarding#{enrollment_id}"}},
        UpdateExpression="SET #p.#s = :s, #p.step = :s", ExpressionAttributeNames={"#p": "position", "#s": "state"},
        ExpressionAttributeValues={":s": {"S": positions_item["state"]}})
    assert moves.unpause(current(contact, enrollment_id), "unpause again")
    assert len(runs()) == len(before) + 1
