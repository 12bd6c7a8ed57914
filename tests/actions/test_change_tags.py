"""change_tags, and through it the step runner every action shares: idempotency per visit,
only_if, a missing contact, invalid settings, transient errors and metrics."""

from __future__ import annotations

import json
import os

import pytest
from botocore.exceptions import ClientError

from automaps import aws as aws_clients
from automaps.journeys import steps
from automaps.journeys.steps import TaskEvent, TransientError
from functions.change_tags import app
from tests.actions.conftest import event_for, idempotency_records, kinds, retried_alike


def test_given_a_contact_when_tags_change_then_only_actual_changes_are_recorded(store, contact, lambda_context):
    event = event_for("change_tags", contact)  # add lead, newsletter; remove cold

    result = app.lambda_handler(event, lambda_context)

    assert result == {"outcome": "done", "reason": None, "step_id": "tag-lead",
                      "detail": {"added": ["lead"], "removed": ["cold"]}}
    assert store.get(contact.id).tags == {"newsletter", "lead"}
    changed, done = store.history(contact.id, kinds=["tags.changed", "step.done"])
    assert changed.detail == {"added": ["lead"], "removed": ["cold"]}
    assert (changed.map_id, changed.step_id) == ("welcome-leads", "tag-lead")
    assert done.detail["action"] == "change_tags" and done.detail["enrollment_id"] == event["enrollment_id"]


def test_given_a_step_ran_when_the_same_visit_is_retried_then_it_returns_the_same_outcome_and_changes_nothing(
        store, contact, lambda_context):
    event = event_for("change_tags", contact)
    first = app.lambda_handler(event, lambda_context)
    store.change_tags(contact.id, add=["cold"])  # the contact changes before the retry arrives

    again = app.lambda_handler(event, lambda_context)

    assert retried_alike(again, first)
    assert "cold" in store.get(contact.id).tags  # the action did not run again
    assert kinds(store, contact).count("step.done") == 1
    assert kinds(store, contact).count("tags.changed") == 1
    assert idempotency_records() == []  # naturally idempotent: the visit's DONE# marker is all it keeps


def test_given_an_action_with_outside_effects_when_the_visit_is_retried_then_its_idempotency_record_answers(
        store, contact, lambda_context, monkeypatch):
    monkeypatch.setattr(steps, "NATURALLY_IDEMPOTENT", frozenset())  # as for a send: the step runner's record
    event = event_for("change_tags", contact)
    first = app.lambda_handler(event, lambda_context)
    store.change_tags(contact.id, add=["cold"])

    assert app.lambda_handler(event, lambda_context) == first
    assert kinds(store, contact).count("step.done") == 1
    (record,) = idempotency_records()
    assert record["id"]["S"].startswith("automaps.step#") and record["status"]["S"] == "COMPLETED"


def test_given_a_step_ran_when_a_later_visit_of_the_same_state_arrives_then_it_runs_again(
        store, contact, lambda_context):
    app.lambda_handler(event_for("change_tags", contact), lambda_context)

    later = app.lambda_handler(event_for("change_tags", contact, state_entered_time="2026-11-09T08:00:00.000Z"),
                               lambda_context)

    assert later["outcome"] == "done" and later["reason"] == "tags already as requested"
    assert kinds(store, contact).count("step.done") == 2
    assert kinds(store, contact).count("tags.changed") == 1


def test_given_only_if_is_not_met_when_the_step_runs_then_it_is_skipped_with_the_inputs(
        store, contact, lambda_context):
    event = event_for("change_tags", contact, only_if={"has_tag": "customer"})

    result = app.lambda_handler(event, lambda_context)

    assert (result["outcome"], result["reason"]) == ("skipped", "only_if not met")
    assert store.get(contact.id).tags == {"newsletter", "cold"}
    (skipped,) = store.history(contact.id, kinds=["step.skipped"])
    assert skipped.detail["reason"] == "only_if not met"
    assert skipped.detail["inputs"] == [{"condition": "has_tag", "has_tag": "customer", "tags": ["cold", "newsletter"],
                                         "result": False}]


def test_given_only_if_is_met_when_the_step_runs_then_the_action_runs(store, contact, lambda_context):
    event = event_for("change_tags", contact, only_if={"field": {"name": "age", "gt": 45}})

    assert app.lambda_handler(event, lambda_context)["outcome"] == "done"
    assert "lead" in store.get(contact.id).tags


def test_given_the_contact_is_gone_when_the_step_runs_then_it_is_skipped(aws, lambda_context):
    event = event_for("change_tags", "c_gone")

    result = app.lambda_handler(event, lambda_context)

    assert (result["outcome"], result["reason"]) == ("skipped", "contact no longer exists")


def test_given_invalid_settings_when_the_step_runs_then_it_fails_and_says_why(store, contact, lambda_context):
    event = event_for("change_tags", contact, settings={"add": ["x"], "remove": ["x"]})

    result = app.lambda_handler(event, lambda_context)

    assert result["outcome"] == "failed" and "both added and removed: x" in result["reason"]
    (failed,) = store.history(contact.id, kinds=["step.failed"])
    assert failed.detail["reason"] == result["reason"]


@pytest.fixture
def throttled_once(aws):
    """GIVEN DynamoDB throttles the next write to a contact profile (once)."""
    calls: list[str] = []

    def throttle(params, **_):  # botocore before-call hook: params["body"] is the JSON request
        if b'"PROFILE"' in params["body"] and not calls:
            calls.append("throttled")
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"},
                               "ResponseMetadata": {"HTTPStatusCode": 400}}, "PutItem")

    events = aws_clients.client("dynamodb").meta.events
    for operation in ("PutItem", "TransactWriteItems"):  # a profile change with its history is a transaction
        events.register(f"before-call.dynamodb.{operation}", throttle)
    yield calls
    for operation in ("PutItem", "TransactWriteItems"):
        events.unregister(f"before-call.dynamodb.{operation}", throttle)


def test_given_dynamodb_throttles_when_the_step_runs_then_a_transient_error_leaves_and_the_retry_runs(
        store, contact, lambda_context, throttled_once):
    event = event_for("change_tags", contact)

    with pytest.raises(TransientError) as raised:
        app.lambda_handler(event, lambda_context)

    assert type(raised.value).__name__ == "TransientError"  # the name the state's Retry matches
    assert throttled_once == ["throttled"]
    assert idempotency_records() == []  # released: nothing says "done"
    assert "step.done" not in kinds(store, contact)

    retried = app.lambda_handler(event, lambda_context)

    assert retried["outcome"] == "done"
    assert kinds(store, contact).count("step.done") == 1
    assert "lead" in store.get(contact.id).tags


def test_given_another_invocation_holds_the_visit_when_a_duplicate_arrives_then_it_is_retried_later(
        store, contact, lambda_context, monkeypatch):
    monkeypatch.setattr(steps, "NATURALLY_IDEMPOTENT", frozenset())  # as for a send: the step runner's record
    event = event_for("change_tags", contact)
    app.lambda_handler(event, lambda_context)
    (record,) = idempotency_records()
    aws_clients.client("dynamodb").update_item(  # as if the first invocation were still running
        TableName=_idempotency_table(), Key={"id": record["id"]},
        UpdateExpression="SET #s = :p, in_progress_expiration = :far REMOVE #d",
        ExpressionAttributeNames={"#s": "status", "#d": "data"},
        ExpressionAttributeValues={":p": {"S": "INPROGRESS"}, ":far": {"N": "99999999999999"}})

    with pytest.raises(TransientError):
        app.lambda_handler(event, lambda_context)
    assert kinds(store, contact).count("step.done") == 1


def test_given_a_step_finishes_then_one_count_per_outcome_is_emitted_in_the_configured_namespace(
        contact, lambda_context, capsys):
    app.lambda_handler(event_for("change_tags", contact), lambda_context)

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    (emf,) = [line for line in lines if "action" in line]   # the router's counts by map and step come too
    (directive,) = emf["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == os.environ["POWERTOOLS_METRICS_NAMESPACE"]
    assert [m["Name"] for m in directive["Metrics"]] == ["StepDone"]
    assert emf["StepDone"] == [1.0] and emf["action"] == "change_tags"


def test_the_idempotency_key_is_the_visit_of_the_state():
    event = TaskEvent.model_validate(event_for("change_tags", "c_1"))
    same_visit = event.model_copy(update={"settings": {"add": ["other"]}})
    next_visit = event.model_copy(update={"state_entered_time": "2026-11-09T08:00:00.000Z"})

    assert event.idempotency_key == same_visit.idempotency_key
    assert event.idempotency_key != next_visit.idempotency_key
    assert len(event.idempotency_key) == 64


def _idempotency_table() -> str:
    from automaps import config

    return config.idempotency_table()
