"""End to end on the local runtime: the example maps lead-nurture and customer-onboarding
(maps/), as template.yaml deploys them. A contact who joins the prospects list enters the nurture
through the contacts table's stream and the router; a purchase anywhere while they are in it is a
goal that pulls them out of the week's wait; lead becomes customer; add_to_automation hands them
to customer-onboarding, whose end returns them to the nurture for the review request."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from automaps.store.contacts import ContactStore, Effect
from automaps.store.lists import ListStore
from automaps.store.tasks import TaskStore
from automaps_local.clock import VirtualClock
from automaps_local.runtime import LocalRuntime
from automaps_local.serve import push_content
from tests.conftest import ROOT
from tests.e2e.conftest import START

pytestmark = pytest.mark.slow


@pytest.fixture
def backend() -> Iterator[LocalRuntime]:
    """GIVEN the backend from template.yaml on moto, its maps, templates and forms pushed, at
    Monday 09:00 in New York on a virtual clock that moves only when the test runs it."""
    with LocalRuntime(
        ROOT / "template.yaml",
        clock=VirtualClock(START, auto_advance=False),
        environment={"POWERTOOLS_METRICS_DISABLED": "true"},
    ) as runtime:
        push_content(runtime)
        yield runtime


def prospect(email: str) -> str:
    """GIVEN a lead who joins the prospects list (an import, a form, another map: the list.added entry)."""
    store = ContactStore()
    contact, _ = store.upsert_by_email(email, {"first_name": "Ada", "timezone": "America/New_York"}, tags=["lead"])
    ListStore().add("list", "prospects", contact.id, effect=Effect(visit=f"import-{contact.id}", kind="list.added"))
    return contact.id


def until(runtime: LocalRuntime, moment) -> None:
    runtime.run_until_settled(until=moment)
    if runtime.clock.now() < moment:
        runtime.clock.advance((moment - runtime.clock.now()).total_seconds())


def subjects(runtime: LocalRuntime) -> list[str]:
    return [email["subject"] for email in runtime.outbox()["emails"]]


def sent_at(runtime: LocalRuntime, start: str) -> str:
    return next(str(e["at"]) for e in runtime.outbox()["emails"] if e["subject"].startswith(start))


def test_given_a_lead_in_the_weeks_wait_when_they_buy_then_the_goal_onboards_them_and_they_return(backend):
    contact = prospect("ada@example.com")
    until(backend, START + timedelta(days=2))
    assert subjects(backend) == ["Ada, three tips to get more out of your week"]

    # WHEN they buy on day 2, in the middle of the nurture's 7-day wait
    ContactStore().record(contact, "purchase.made", {"product": "course-101", "order_id": "A-1", "total": "149.00"})
    until(backend, START + timedelta(days=2, hours=1))

    # THEN the goal pulled them out of the wait: no pitch; lead became customer; onboarding began
    assert subjects(backend) == ["Ada, three tips to get more out of your week", "Welcome aboard, Ada"]
    tags = ContactStore().get(contact).tags
    assert "customer" in tags and "lead" not in tags
    store = ContactStore()
    [achieved] = [e for e in store.history(contact) if e.kind == "goal.achieved"]
    assert (achieved.detail["goal"], achieved.detail["from_step"]) == ("bought", "one-week")
    [nurture] = store.enrollments(contact, "lead-nurture")
    assert (nurture.status, nurture.position["step"]) == ("waiting", "onboarding")

    # WHEN onboarding runs to its end (the check-in call task three days later)
    assert backend.run_until_settled(until=START + timedelta(days=10))

    # THEN they came back to the nurture for the review request, and both maps ended
    assert subjects(backend)[-1] == "Ada, how are we doing?"
    assert "Ada, ready for the full course?" not in subjects(backend)
    assert sent_at(backend, "Ada, how are we doing?") == "2026-11-28T14:00:00Z"
    [task] = TaskStore().of_contact(contact)
    assert (task.title, task.assignee) == ("Check-in call with Ada", "success@example.com")
    returned = [e.detail for e in store.history(contact) if e.kind == "automation.returned"]
    assert [(r["from_map"], r["reason"]) for r in returned] == [("customer-onboarding", "end")]
    assert [e.status for e in store.enrollments(contact, "customer-onboarding")] == ["exited"]
    assert [e.status for e in store.enrollments(contact, "lead-nurture")] == ["exited"]


def test_given_a_lead_who_never_buys_then_the_pitch_comes_a_week_later_and_they_leave_two_weeks_after(backend):
    contact = prospect("window@example.com")

    assert backend.run_until_settled(until=START + timedelta(days=30))

    assert subjects(backend) == ["Ada, three tips to get more out of your week", "Ada, ready for the full course?"]
    assert sent_at(backend, "Ada, ready").startswith("2026-11-30T14:00")
    store = ContactStore()
    assert [e.step_id for e in store.history(contact) if e.kind == "goal.timed_out"] == ["bought"]
    assert store.enrollments(contact, "customer-onboarding") == []
    [exited] = [e for e in store.history(contact) if e.kind == "map.exited"]
    assert (exited.map_id, exited.detail["reason"], exited.at) == (
        "lead-nurture",
        "goal_timeout",
        START + timedelta(days=21),
    )
    assert "customer" not in store.get(contact).tags
