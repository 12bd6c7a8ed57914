"""Moves under faults (issue 9, "one mechanism"): a goal jump whose StartExecution is throttled,
whose StartExecution answer is lost after Step Functions started the run, or whose StopExecution
fails, happens once: one new run, the step after the goal once, the skipped step never. Faults
come from outside: botocore hooks on the Step Functions client the handlers share; the stream
delivers the failed record again, as Lambda does."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from automaps import aws as aws_clients
from automaps.store.contacts import ContactStore
from tests.e2e.conftest import START, runtime  # noqa: F401  (the fixture)
from tests.e2e.test_moves_journey import deploy, enroll, happen, notes

pytestmark = pytest.mark.slow


def failing(operation: str, error: Callable[[], Exception], times: int = 1, after: bool = False) -> list[int]:
    """The next ``times`` calls of ``operation`` fail (``after``: once Step Functions has done it)."""
    calls = [0]

    def hook(**_: Any) -> None:
        calls[0] += 1
        if calls[0] <= times:
            raise error()

    event = f"{'after' if after else 'before'}-call.sfn.{operation}"
    aws_clients.client("stepfunctions").meta.events.register(event, hook)
    return calls


def throttled() -> Exception:
    return ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
                        "ResponseMetadata": {"HTTPStatusCode": 400}}, "StartExecution")


def lost() -> Exception:
    return ReadTimeoutError(endpoint_url="https://states.us-east-1.amazonaws.com")


def jumped_once(runtime, contact: str) -> None:
    assert notes(runtime, contact) == ["Day one of the nurture", "Thank you for buying"]
    assert len([e for e in ContactStore().history(contact) if e.kind == "goal.achieved"]) == 1
    runs = runtime.executions("goal-journey")
    assert sorted(r["status"] for r in runs) == ["ABORTED", "SUCCEEDED"]


@pytest.mark.parametrize("fault", [
    pytest.param(("StartExecution", throttled, False), id="start throttled"),
    pytest.param(("StartExecution", lost, True), id="start answer lost"),
    pytest.param(("StopExecution", throttled, False), id="stop throttled"),
])
def test_given_a_goal_jump_when_step_functions_fails_once_then_the_contact_jumps_once(runtime, fault):
    operation, error, after = fault
    deploy(runtime, "goal-journey")
    contact = enroll("goal-journey", f"fault-{operation.lower()}-{after}@example.com")
    runtime.run_until_settled(until=START + timedelta(days=1))

    # WHEN they buy in the 7-day wait, and the move's call to Step Functions fails once
    calls = failing(operation, error, after=after)
    happen(contact, "purchase.made", {"product": "course", "order_id": "o-f"})
    assert runtime.run_until_settled(timeout=120)

    # THEN the failed record came back (a refused call is made again; a call that took effect
    # need not be, when the run has already moved on) and the jump happened once
    assert calls[0] >= (1 if after else 2)
    jumped_once(runtime, contact)
