"""End to end on the local runtime (issue 10, "Waits that do not hold executions": no execution
comes near the one-year or 25,000-event limits, whatever the map's loops): a go_to loop runs at
most its bound of rounds in one execution, then the contact continues at the loop in a new run,
once, and goes on looping there. Map: tests/e2e/maps/loop-journey.yaml."""

from __future__ import annotations

from datetime import timedelta

import pytest

from automaps.maps.compiler import compile_map
from automaps.maps.loader import load_map
from automaps.store.contacts import ContactStore
from tests.e2e.conftest import START
from tests.e2e.test_moves_journey import MAPS, deploy, enroll, kinds, notes, tag, until

pytestmark = pytest.mark.slow


def test_given_a_loop_of_100_day_rounds_then_each_run_holds_two_rounds_and_the_contact_loops_on_in_new_runs(runtime):
    # GIVEN the loop map, whose rounds wait 100 days: its compiled bound is 2 rounds a run
    asl = compile_map(load_map(MAPS / "loop-journey.yaml"))
    assert asl["States"]["again limit"]["Choices"][0]["NumericGreaterThan"] == 2
    deploy(runtime, "loop-journey")
    contact = enroll("loop-journey", "loop@example.com")

    # WHEN 450 days pass (reminders on days 0, 100, 200, 300 and 400)
    until(runtime, START + timedelta(days=450))

    # THEN the first run ended after its rounds (no run lives past 330 days) and a second one
    # took over at the loop, once; the contact was reminded each round, exactly once
    assert notes(runtime, contact) == ["Reminder"] * 5
    runs = runtime.executions("loop-journey")
    assert sorted(r["status"] for r in runs) == ["RUNNING", "SUCCEEDED"]
    assert kinds(contact, "loop.continued") == [("loop.continued", "again")]
    [held] = ContactStore().enrollments(contact, "loop-journey")
    assert held.status == "active" and held.run.endswith(next(r["name"] for r in runs if r["status"] == "RUNNING"))

    # WHEN the contact confirms and the next round comes
    tag(contact, "confirmed")
    until(runtime, START + timedelta(days=510))

    # THEN they leave the map from the second run
    assert ContactStore().enrollments(contact, "loop-journey")[0].exit_reason == "end"
    assert sorted(r["status"] for r in runtime.executions("loop-journey")) == ["SUCCEEDED", "SUCCEEDED"]
