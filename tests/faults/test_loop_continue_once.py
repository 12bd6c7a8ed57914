"""A loop's continuation in a new run under faults (issue 10, no execution nears its limits; issue
9's one move mechanism): when the StartExecution of the new run is throttled, or its answer is
lost after Step Functions started it, the continues Task's retry finishes the same move: one new
run, one loop.continued, each round's reminder once. Map: tests/e2e/maps/loop-journey.yaml."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.e2e.conftest import START, runtime  # noqa: F401  (the fixture)
from tests.e2e.test_moves_journey import deploy, enroll, kinds, notes, until
from tests.faults.test_moves_once import failing, lost, throttled

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("fault", [
    pytest.param((throttled, False), id="start throttled"),
    pytest.param((lost, True), id="start answer lost"),
])
def test_given_a_loop_past_its_rounds_when_the_new_runs_start_fails_once_then_the_contact_continues_once(runtime, fault):  # noqa: F811
    error, after = fault
    # GIVEN a contact in the loop map (2 rounds of 100 days a run), past its first start
    deploy(runtime, "loop-journey")
    contact = enroll("loop-journey", f"loop-{after}@example.com")
    until(runtime, START + timedelta(days=1))

    # WHEN the continuation's StartExecution (day 300) fails once
    calls = failing("StartExecution", error, after=after)
    until(runtime, START + timedelta(days=350))

    # THEN the Task's retry finished the move: one new run, continued once, no reminder twice
    assert calls[0] >= 2
    assert notes(runtime, contact) == ["Reminder"] * 4
    assert kinds(contact, "loop.continued") == [("loop.continued", "again")]
    assert sorted(r["status"] for r in runtime.executions("loop-journey")) == ["RUNNING", "SUCCEEDED"]
