"""assign_task: a task for a team member about the contact, stored once per visit of the step,
findable by assignee without a scan, recorded as task.assigned."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from automaps.actions.assign_task import Settings
from automaps.store.tasks import TaskStore
from functions.assign_task import app
from tests.actions.sending import a_contact, enrolled, history, task_event
from tests.actions.conftest import retried_alike

FIXTURE = "assign_task.json"
NOW = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # the `clock` fixture's instant


@pytest.fixture
def ready(aws, clock):
    """GIVEN the stack is up and the clock stands still."""


def assign(event: dict, lambda_context) -> dict:
    return app.lambda_handler(event, lambda_context)


def test_given_a_lead_when_the_step_runs_then_the_assignee_has_an_open_task_due_in_two_days(ready, lambda_context):
    jane = a_contact(first_name="Jane")
    event = task_event(FIXTURE, jane)
    enrolled(jane, event, {"type": "form_submitted", "form": "newsletter", "fields": {"plan": "pro"}})

    result = assign(event, lambda_context)

    assert result["outcome"] == "done"
    [task] = TaskStore().of_contact(jane.id)
    assert (task.assignee, task.title, task.priority, task.status) == ("sam@example.com", "Call Jane", "high", "open")
    assert task.description == "Jane asked about the pro plan."
    assert task.due_at == datetime(2026, 11, 4, 8, 0, tzinfo=UTC)
    assert (task.map_id, task.step_id) == ("welcome-leads", "call-lead")
    listed, _ = TaskStore().by_assignee("Sam@Example.com", "open")
    assert [t.task_id for t in listed] == [task.task_id]


def test_given_an_assigned_task_when_the_history_is_read_then_it_names_the_task_with_a_masked_assignee(
        ready, lambda_context):
    jane = a_contact(first_name="Jane")

    assign(task_event(FIXTURE, jane), lambda_context)

    [entry] = history(jane, "task.assigned")
    [task] = TaskStore().of_contact(jane.id)
    assert entry.detail == {"task_id": task.task_id, "assignee": "s***@example.com", "due_at": "2026-11-04T08:00:00Z",
                            "title": "Call Jane", "priority": "high"}


def test_given_a_fixed_due_time_and_the_owner_as_assignee_then_both_are_used(ready, lambda_context):
    jane = a_contact(first_name="Jane", owner="Rep.One@Example.com")
    settings = {"assignee": "{{ contact.owner }}", "title": "Check {{ contact.first_name }}'s papers",
                "due": {"at": "2026-12-01T09:00:00+01:00"}}

    assign(task_event(FIXTURE, jane, settings=settings), lambda_context)

    [task] = TaskStore().of_contact(jane.id)
    assert (task.assignee, task.title, task.priority) == ("rep.one@example.com", "Check Jane's papers", "normal")
    assert task.due_at == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def test_given_the_assignee_expression_is_not_an_address_then_the_step_fails_without_retry(ready, lambda_context):
    jane = a_contact(first_name="Jane", owner="nobody")
    settings = {"assignee": "{{ contact.owner }}", "title": "Call", "due": {"in": {"hours": 1}}}

    result = assign(task_event(FIXTURE, jane, settings=settings), lambda_context)

    assert result["outcome"] == "failed" and "assignee is not an email address" in result["reason"]
    assert TaskStore().of_contact(jane.id) == []


def test_given_a_missing_merge_field_then_the_step_is_skipped_and_no_task_is_stored(ready, lambda_context):
    jane = a_contact()  # no first_name

    result = assign(task_event(FIXTURE, jane), lambda_context)

    assert (result["outcome"], result["reason"]) == ("skipped", "missing field: contact.first_name")
    assert TaskStore().of_contact(jane.id) == []


def test_given_the_same_task_event_twice_when_run_then_one_task_is_stored(ready, lambda_context):
    jane = a_contact(first_name="Jane")
    event = task_event(FIXTURE, jane)

    first, second = assign(event, lambda_context), assign(event, lambda_context)

    assert retried_alike(second, first)
    assert len(TaskStore().of_contact(jane.id)) == 1 and len(history(jane, "task.assigned")) == 1


def test_given_the_idempotency_record_is_gone_when_the_visit_runs_again_then_still_one_task(ready, lambda_context):
    """A retry after the idempotency record expired (or was lost) stores the same task id."""
    from automaps import aws as aws_clients, config

    jane = a_contact(first_name="Jane")
    event = task_event(FIXTURE, jane)
    assign(event, lambda_context)
    db = aws_clients.client("dynamodb")
    for item in db.scan(TableName=config.idempotency_table())["Items"]:
        db.delete_item(TableName=config.idempotency_table(), Key={"id": item["id"]})

    result = assign(event, lambda_context)

    assert (result["outcome"], result["reason"]) == ("done", "done by an earlier attempt of this visit of the step")
    assert len(TaskStore().of_contact(jane.id)) == 1 and len(history(jane, "task.assigned")) == 1


def test_given_a_later_visit_of_the_step_then_a_second_task_is_assigned(ready, lambda_context):
    jane = a_contact(first_name="Jane")

    assign(task_event(FIXTURE, jane), lambda_context)
    assign(task_event(FIXTURE, jane, state_entered_time="2026-11-09T08:00:03.000Z"), lambda_context)

    assert len(TaskStore().of_contact(jane.id)) == 2


@pytest.mark.parametrize(("settings", "message"), [
    ({"assignee": "sam", "title": "t", "due": {"in": {"days": 1}}}, "is not an email address"),
    ({"assignee": "sam@example.com", "title": "", "due": {"in": {"days": 1}}}, "at least 1 character"),
    ({"assignee": "sam@example.com", "title": "t"}, "due"),
    ({"assignee": "sam@example.com", "title": "t", "due": {}}, "exactly one of 'in'"),
    ({"assignee": "sam@example.com", "title": "t", "due": {"in": {"days": 1}, "at": "2026-12-01T09:00:00Z"}},
     "exactly one of 'in'"),
    ({"assignee": "sam@example.com", "title": "t", "due": {"at": "2026-12-01T09:00:00"}}, "timezone"),
    ({"assignee": "sam@example.com", "title": "t", "due": {"in": {"dayz": 1}}}, "Extra inputs"),
    ({"assignee": "sam@example.com", "title": "t", "due": {"in": {"days": 1}}, "priority": "urgent"}, "'low'"),
])
def test_given_bad_settings_when_validated_then_they_are_refused_saying_what_to_change(settings, message):
    with pytest.raises(ValidationError, match=message):
        Settings.model_validate(settings)
