"""End to end on the local runtime: a wait longer than the map's ``waits.hand_off_after`` (7 days
by default) ends its execution and hands the contact to a one-time EventBridge Scheduler schedule,
which at the wait's end sends a resume request to the EnrollQueue; the contact continues at the
wait (automaps.journeys.handoff). Map: tests/e2e/maps/long-wait-journey.yaml."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from automaps import aws as aws_clients
from automaps.journeys import moves
from automaps.store.contacts import ContactStore
from tests.e2e.conftest import START
from tests.e2e.test_moves_journey import deploy, enroll, happen, notes, until

pytestmark = pytest.mark.slow


def schedules() -> list[str]:
    return [s["Name"] for s in aws_clients.client("scheduler").list_schedules()["Schedules"]]


def noted(contact: str) -> list[tuple[str, int]]:
    return [(n["text"], (datetime.fromisoformat(n["at"]) - START).days) for n in ContactStore().notes(contact)]


def test_given_a_30_day_wait_then_no_execution_waits_and_the_schedule_resumes_the_contact_on_day_30(runtime):
    deploy(runtime, "long-wait-journey")
    contact = enroll("long-wait-journey", "month@example.com")
    until(runtime, START + timedelta(hours=1))

    # THEN the run ended at the wait, the contact waits without a run, one schedule holds the moment
    assert [r["status"] for r in runtime.executions("long-wait-journey")] == ["SUCCEEDED"]
    held = ContactStore().enrollments(contact, "long-wait-journey")[0]
    assert (held.status, held.position["step"], held.position["until"]) == (
        "waiting", "month", "2026-12-23T14:00:00Z")
    assert len(schedules()) == 1

    # WHEN the month passes: the schedule fires once, the contact goes on, the schedule is gone
    assert runtime.run_until_settled(timeout=60)
    assert noted(contact) == [("Hello", 0), ("A month later", 30)]
    assert schedules() == [] and runtime.schedules.fired == 1
    assert sorted(r["status"] for r in runtime.executions("long-wait-journey")) == ["SUCCEEDED", "SUCCEEDED"]
    assert ContactStore().enrollments(contact, "long-wait-journey")[0].exit_reason == "completed"


def test_given_a_contact_handed_off_when_paused_past_the_moment_then_unpausing_continues_from_the_wait(runtime):
    deploy(runtime, "long-wait-journey")
    contact = enroll("long-wait-journey", "held@example.com")
    until(runtime, START + timedelta(hours=1))
    assert moves.pause(ContactStore().enrollments(contact, "long-wait-journey")[0], "pause")

    until(runtime, START + timedelta(days=40))  # the schedule fired while paused: nothing happened
    assert notes(runtime, contact) == ["Hello"] and schedules() == []

    assert moves.unpause(ContactStore().enrollments(contact, "long-wait-journey")[0], "unpause")
    assert runtime.run_until_settled(timeout=60)
    assert noted(contact) == [("Hello", 0), ("A month later", 40)]


def test_given_a_contact_handed_off_when_a_map_goal_takes_them_out_then_the_schedule_does_nothing(runtime):
    deploy(runtime, "long-wait-journey")
    contact = enroll("long-wait-journey", "buyer@example.com")
    until(runtime, START + timedelta(days=2))

    happen(contact, "purchase.made", {"product": "course", "order_id": "o-1"})
    assert runtime.run_until_settled(timeout=60)

    assert notes(runtime, contact) == ["Hello"]
    assert [e.exit_reason for e in ContactStore().enrollments(contact, "long-wait-journey")] == ["goal:bought"]
    assert runtime.schedules.fired == 1  # it fired on day 30 and found nobody waiting there
