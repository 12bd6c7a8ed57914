"""The admin API handler, called with API Gateway REST proxy events (events/admin_*.json):
listing a team member's tasks and completing them, once."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from automaps.store.contacts import ContactStore
from automaps.store.tasks import TaskStore
from functions.admin_api import app
from tests.actions.sending import a_contact, history
from tests.admin.givens import assigned
from tests.conftest import load_event


@pytest.fixture
def ready(aws, clock):
    """GIVEN the stack is up and the clock stands still."""


def call(event: dict, lambda_context) -> tuple[int, dict]:
    response = app.lambda_handler(event, lambda_context)
    return response["statusCode"], json.loads(response["body"])


def list_event(**query: str) -> dict:
    event = load_event("admin_list_tasks.json")
    query = {**event["queryStringParameters"], **query}
    return {**event, "queryStringParameters": query, "multiValueQueryStringParameters": {k: [v] for k, v in query.items()}}


def complete_event(task_id: str, body: str | None = None) -> dict:
    event = load_event("admin_complete_task.json")
    path = f"/tasks/{task_id}/complete"
    return {**event, "path": path, "pathParameters": {"task_id": task_id},
            **({"body": body} if body is not None else {})}


def test_given_open_tasks_of_two_assignees_when_one_lists_then_only_theirs_come_soonest_due_first(
        ready, lambda_context):
    jane, john = a_contact(first_name="Jane"), a_contact("john@example.com", first_name="John")
    later = assigned(jane, due={"in": {"days": 5}})
    sooner = assigned(john, due={"in": {"hours": 3}})
    assigned(john, assignee="kim@example.com", state_entered_time="2026-11-02T08:00:04.000Z")

    status, body = call(list_event(), lambda_context)

    assert status == 200
    assert [t["task_id"] for t in body["tasks"]] == [sooner.task_id, later.task_id]
    first = body["tasks"][0]
    assert (first["title"], first["contact_id"], first["status"], first["due_at"]) == (
        "Call John", john.id, "open", "2026-11-02T11:00:00Z")
    assert "next" not in body


def test_given_many_tasks_when_listed_with_a_limit_then_the_next_cursor_pages_through_all(ready, lambda_context):
    jane = a_contact(first_name="Jane")
    ids = {assigned(jane, state_entered_time=f"2026-11-02T08:00:0{i}.000Z").task_id for i in range(5)}

    seen, cursor, pages = [], None, 0
    while True:
        status, body = call(list_event(limit="2", **({"next": cursor} if cursor else {})), lambda_context)
        assert status == 200
        seen += [t["task_id"] for t in body["tasks"]]
        pages += 1
        cursor = body.get("next")
        if not cursor:
            break

    assert sorted(seen) == sorted(ids) and pages >= 3


def test_given_an_open_task_when_completed_then_it_is_done_and_the_contacts_history_has_task_completed(
        ready, lambda_context, clock):
    jane = a_contact(first_name="Jane")
    task = assigned(jane)
    clock.advance(days=3)

    status, body = call(complete_event(task.task_id, json.dumps({"note": "Called, upgrading next week."})),
                        lambda_context)

    assert status == 200 and body["already_completed"] is False
    assert body["task"]["status"] == "done" and body["task"]["completed_at"] == "2026-11-05T08:00:00Z"
    assert body["task"]["completed_by"] == "arn:aws:sts::123456789012:assumed-role/automaps-sales/sam"
    [entry] = history(jane, "task.completed")
    assert entry.detail == {"task_id": task.task_id, "title": "Call Jane", "assignee": "s***@example.com",
                            "due_at": "2026-11-04T08:00:00Z", "late": True, "note": "Called, upgrading next week."}
    assert (entry.map_id, entry.step_id) == ("welcome-leads", "call-lead")
    assert call(list_event(), lambda_context)[1]["tasks"] == []
    [done] = call(list_event(status="done"), lambda_context)[1]["tasks"]
    assert done["task_id"] == task.task_id


def test_given_a_completed_task_when_completed_again_then_it_answers_the_same_and_records_nothing(
        ready, lambda_context):
    jane = a_contact(first_name="Jane")
    task = assigned(jane)

    first = call(complete_event(task.task_id), lambda_context)
    second = call(complete_event(task.task_id), lambda_context)

    assert first[0] == second[0] == 200
    assert second[1]["already_completed"] is True and second[1]["task"] == first[1]["task"]
    assert len(history(jane, "task.completed")) == 1


def test_given_the_fixture_event_of_an_unknown_task_then_404(ready, lambda_context):
    status, body = call(load_event("admin_complete_task.json"), lambda_context)

    assert status == 404 and "no task" in body["message"]


@pytest.mark.parametrize("task_id", ["nope", "c_x.t123", "../etc"])
def test_given_a_malformed_task_id_then_404(ready, lambda_context, task_id):
    assert call(complete_event(task_id), lambda_context)[0] == 404


@pytest.mark.parametrize(("query", "message"), [
    ({"assignee": ""}, "assignee"),
    ({"status": "closed"}, "status must be"),
    ({"limit": "0"}, "limit must be"),
    ({"limit": "many"}, "limit must be"),
    ({"next": "bm90IGEgY3Vyc29y"}, "cursor"),
])
def test_given_a_bad_list_query_then_400_says_what_to_fix(ready, lambda_context, query, message):
    status, body = call(list_event(**query), lambda_context)

    assert status == 400 and message in body["message"]


@pytest.mark.parametrize("body", ["not json", '{"note": 5}', '{"status": "done"}'])
def test_given_a_bad_completion_body_then_400_and_the_task_stays_open(ready, lambda_context, body):
    jane = a_contact(first_name="Jane")
    task = assigned(jane)

    assert call(complete_event(task.task_id, body), lambda_context)[0] == 400
    assert TaskStore().get(task.task_id).status == "open"


def test_given_the_contact_was_deleted_when_listing_then_the_task_is_still_listed(ready, lambda_context):
    """Tasks outlive nothing but their items: the list is an index query, not a join."""
    jane = a_contact(first_name="Jane")
    task = assigned(jane)
    from automaps import aws as aws_clients, config

    aws_clients.client("dynamodb").delete_item(TableName=config.contacts_table(),
                                               Key={"pk": {"S": f"CONTACT#{jane.id}"}, "sk": {"S": "PROFILE"}})

    assert ContactStore().get(jane.id) is None
    assert [t["task_id"] for t in call(list_event(), lambda_context)[1]["tasks"]] == [task.task_id]


def test_given_the_list_fixture_event_then_it_matches_the_template_route():
    event = load_event("admin_list_tasks.json")
    assert (event["resource"], event["httpMethod"]) == ("/tasks", "GET")
    assert datetime.fromtimestamp(event["requestContext"]["requestTimeEpoch"] / 1000, UTC).year == 2026
