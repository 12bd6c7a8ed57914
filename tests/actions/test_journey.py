"""The journey's bookkeeping tasks: check_condition, record_failure and exit_map."""

from __future__ import annotations

import json

from automaps import aws as aws_clients
from automaps import config
from automaps.store.content import to_item
from automaps.journeys.journey import summarise_cause
from functions.check_condition import app as check_condition
from functions.exit_map import app as exit_map
from functions.record_failure import app as record_failure
from tests.actions.conftest import ENROLLMENT_ID, MAP_ID, event_for, kinds


def test_given_a_matching_contact_when_the_condition_is_checked_then_true_is_returned_and_why_recorded(
        store, contact, lambda_context):
    result = check_condition.lambda_handler(event_for("check_condition", contact), lambda_context)

    assert result == {"result": True}
    (evaluated,) = store.history(contact.id, kinds=["condition.evaluated"])
    assert evaluated.detail["result"] is True and evaluated.step_id == "is-senior"
    assert evaluated.detail["inputs"] == [
        {"condition": "has_tag", "has_tag": "newsletter", "tags": ["cold", "newsletter"], "result": True},
        {"condition": "field", "field": "age", "op": "gt", "operand": 45, "value": 52, "result": True},
    ]


def test_given_a_contact_that_does_not_match_when_checked_then_false_and_the_failing_input_is_recorded(
        store, contact, lambda_context):
    store.update_fields(contact.id, {"age": 30}, [])

    result = check_condition.lambda_handler(event_for("check_condition", contact), lambda_context)

    assert result == {"result": False}
    (evaluated,) = store.history(contact.id, kinds=["condition.evaluated"])
    assert evaluated.detail["inputs"][-1] == {"condition": "field", "field": "age", "op": "gt", "operand": 45,
                                              "value": 30, "result": False}


def test_given_a_step_failed_after_its_retries_when_recorded_then_the_error_and_a_short_cause_are_on_the_history(
        store, contact, lambda_context):
    assert record_failure.lambda_handler(event_for("record_failure", contact), lambda_context) == {}

    (failed,) = store.history(contact.id, kinds=["step.failed"])
    assert failed.step_id == "welcome-email" and failed.map_id == MAP_ID
    assert failed.detail["error"] == "TransientError"
    assert failed.detail["cause"] == "TransientError: SES throttled the send (ThrottlingException)"
    assert "stackTrace" not in json.dumps(failed.detail)


def test_given_a_huge_cause_when_summarised_then_it_is_truncated():
    cause = json.dumps({"errorType": "Boom", "errorMessage": "x" * 5000, "stackTrace": ["..."]})

    summary = summarise_cause(cause)

    assert len(summary) == 1000 and summary.startswith("Boom: xxx") and summary.endswith("…")
    assert summarise_cause("States.Timeout") == "States.Timeout"
    assert summarise_cause(None) == ""


def test_given_an_active_enrollment_when_the_map_exits_twice_then_it_is_exited_and_recorded_once(
        store, contact, lambda_context, clock):
    event = event_for("exit_map", contact)

    assert exit_map.lambda_handler(event, lambda_context) == {}
    clock.advance(minutes=1)
    assert exit_map.lambda_handler(event, lambda_context) == {}

    enrollment = store.get_enrollment(contact.id, MAP_ID, ENROLLMENT_ID)
    assert enrollment.status == "exited" and enrollment.exit_reason == "end"
    assert enrollment.exited_at.isoformat() == "2026-11-02T08:00:00+00:00"
    (exited,) = store.history(contact.id, kinds=["map.exited"])
    assert exited.detail == {"reason": "end", "enrollment_id": ENROLLMENT_ID}


def test_given_the_entry_is_held_by_the_enrollment_when_the_map_exits_then_the_contact_may_enter_again(
        store, contact, lambda_context):
    entry = {"pk": f"CONTACT#{contact.id}", "sk": f"ENTRY#{MAP_ID}"}
    aws_clients.client("dynamodb").put_item(TableName=config.contacts_table(),
                                            Item=to_item({**entry, "active": ENROLLMENT_ID}))

    exit_map.lambda_handler(event_for("exit_map", contact), lambda_context)

    item = aws_clients.client("dynamodb").get_item(TableName=config.contacts_table(), Key=to_item(entry))["Item"]
    assert item["active"] == {"S": ""}


def test_given_no_such_enrollment_when_the_map_exits_then_nothing_is_recorded(store, contact, lambda_context):
    event = event_for("exit_map", contact, enrollment_id="e_unknown")

    assert exit_map.lambda_handler(event, lambda_context) == {}
    assert "map.exited" not in kinds(store, contact)


# ------------------------------------------------------------------ an if decided by the action before it


def test_given_a_then_check_when_the_action_runs_then_it_answers_the_next_steps_condition_after_acting(
        store, contact, lambda_context):
    from functions.change_tags import app as change_tags

    event = event_for("change_tags", contact, settings={"add": ["vip"]},
                      then_check={"step_id": "is-vip", "condition": {"has_tag": "vip"}})
    result = change_tags.lambda_handler(event, lambda_context)

    assert result["outcome"] == "done" and result["check"] == {"result": True}   # decided on the contact as left
    (evaluated,) = store.history(contact.id, kinds=["condition.evaluated"])
    assert evaluated.step_id == "is-vip" and evaluated.detail["result"] is True
    # a retry of the same visit returns the same answer and decides nothing again
    assert change_tags.lambda_handler(event, lambda_context)["check"] == {"result": True}
    assert len(store.history(contact.id, kinds=["condition.evaluated"])) == 1


def test_given_a_then_check_it_cannot_answer_then_the_action_still_succeeds_and_answers_null(
        store, contact, lambda_context):
    from functions.change_tags import app as change_tags

    event = event_for("change_tags", contact, settings={"add": ["vip"]},
                      then_check={"step_id": "is-vip", "condition": {"no_such_condition": 1}})
    result = change_tags.lambda_handler(event, lambda_context)

    # the tag change happened and must not be retried; the state machine asks check_condition instead
    assert result["outcome"] == "done" and result["check"] is None
    assert "vip" in store.require(contact.id).tags


def test_given_no_then_check_then_the_answer_has_no_check_key(store, contact, lambda_context):
    from functions.change_tags import app as change_tags

    assert "check" not in change_tags.lambda_handler(event_for("change_tags", contact), lambda_context)
