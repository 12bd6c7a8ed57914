"""Completing a task while other writers hold it (issue 8: conflicts retried, never a 5xx). On AWS a
transaction that meets another writer's transaction is cancelled with ``TransactionConflict``; it
is injected from outside, on the shared DynamoDB client (botocore ``before-call``: the request never
reaches the table, as a cancelled transaction writes nothing)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from automaps import aws as aws_clients
from automaps.store.tasks import COMPLETE_ATTEMPTS, TaskStore
from functions.admin_api import app
from tests.actions.sending import a_contact, history
from tests.admin.givens import assigned
from tests.admin.test_admin_api import call, complete_event


class Cancelled:
    """TransactWriteItems cancelled for its first ``times`` calls (None: every call) with ``reason``."""

    def __init__(self, times: int | None, reason: str = "TransactionConflict",
                 code: str = "TransactionCanceledException") -> None:
        self.times, self.reason, self.code, self.calls = times, reason, code, 0

    def __call__(self, **_: Any) -> None:
        self.calls += 1
        if self.times is None or self.calls <= self.times:
            raise ClientError({"Error": {"Code": self.code, "Message": f"Transaction cancelled [{self.reason}, None]"},
                               "CancellationReasons": [{"Code": self.reason}, {"Code": "None"}],
                               "ResponseMetadata": {"HTTPStatusCode": 400}}, "TransactWriteItems")


@pytest.fixture
def cancelling(aws, clock) -> Iterator[Any]:
    """GIVEN the stack is up; ``cancelling(fault)`` puts the fault on the shared DynamoDB client."""
    events = aws_clients.client("dynamodb").meta.events
    registered: list[Any] = []

    def put(fault: Cancelled) -> Cancelled:
        events.register("before-call.dynamodb.TransactWriteItems", fault, unique_id=f"fault-{len(registered)}")
        registered.append(fault)
        return fault

    yield put
    for index in range(len(registered)):
        events.unregister("before-call.dynamodb.TransactWriteItems", unique_id=f"fault-{index}")


def test_given_a_conflict_twice_when_a_task_is_completed_then_it_is_retried_and_done_once(
        cancelling, lambda_context):
    jane = a_contact(first_name="Jane")
    task = assigned(jane)
    fault = cancelling(Cancelled(2))

    status, body = call(complete_event(task.task_id), lambda_context)

    assert status == 200 and body["already_completed"] is False and body["task"]["status"] == "done"
    assert fault.calls == 3
    assert len(history(jane, "task.completed")) == 1
    assert TaskStore().get(task.task_id).status == "done"


def test_given_conflicts_on_every_attempt_when_a_task_is_completed_then_409_and_it_stays_open(
        cancelling, lambda_context):
    jane = a_contact(first_name="Jane")
    task = assigned(jane)
    fault = cancelling(Cancelled(None))

    status, body = call(complete_event(task.task_id), lambda_context)

    assert status == 409
    assert task.task_id in body["message"] and "complete it again" in body["message"]
    assert fault.calls == COMPLETE_ATTEMPTS
    assert history(jane, "task.completed") == [] and TaskStore().get(task.task_id).status == "open"


def test_given_a_conflict_while_another_call_completes_the_task_then_the_retry_answers_already_completed(
        cancelling, lambda_context):
    jane = a_contact(first_name="Jane")
    task = assigned(jane)
    other = complete_event(task.task_id, json.dumps({"note": "done by Kim"}))

    class CompletedMeanwhile(Cancelled):
        def __call__(self, **kwargs: Any) -> None:
            if self.calls == 0:   # the other call's transaction wins; ours is cancelled by the conflict
                self.calls += 1
                aws_clients.client("dynamodb").meta.events.unregister(
                    "before-call.dynamodb.TransactWriteItems", unique_id="fault-0")
                assert call(other, lambda_context)[0] == 200
                super().__call__(**kwargs)

    cancelling(CompletedMeanwhile(1))

    status, body = call(complete_event(task.task_id), lambda_context)

    assert status == 200 and body["already_completed"] is True and body["task"]["note"] == "done by Kim"
    assert len(history(jane, "task.completed")) == 1


@pytest.mark.parametrize("code,reason", [("ProvisionedThroughputExceededException", "None"),
                                         ("TransactionCanceledException", "ThrottlingError")])
def test_given_dynamodb_throttles_when_a_task_is_completed_then_429_with_retry_after_and_it_stays_open(
        cancelling, lambda_context, code, reason):
    jane = a_contact(first_name="Jane")
    task = assigned(jane)
    cancelling(Cancelled(None, reason, code))

    response = app.lambda_handler(complete_event(task.task_id), lambda_context)

    headers = {**response.get("headers", {}), **{k: v[0] for k, v in response.get("multiValueHeaders", {}).items()}}
    assert response["statusCode"] == 429 and headers["Retry-After"] == "1"
    assert TaskStore().get(task.task_id).status == "open" and history(jane, "task.completed") == []
