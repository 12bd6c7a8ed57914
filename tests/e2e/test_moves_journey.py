"""End to end on the local runtime: moving a contact inside and between maps (goals,
wait_until, pause/unpause, add_to_automation with return, remove), all through the one
"continue from state S" mechanism (automaps.journeys.moves), on the virtual clock.

Maps: tests/e2e/maps/goal-journey.yaml, wait-until-journey.yaml, pause-target.yaml,
caller-journey.yaml."""

from __future__ import annotations

from datetime import timedelta

import pytest

from automaps.journeys import enrollment, router
from automaps.store.contacts import ContactStore, HistoryEntry
from tests.conftest import ROOT
from tests.e2e.conftest import START

pytestmark = pytest.mark.slow

MAPS = ROOT / "tests/e2e/maps"


def deploy(runtime, *names: str) -> None:
    for name in names:
        runtime.stack.deploy_map(MAPS / f"{name}.yaml")


def enroll(map_id: str, email: str, event: dict | None = None, fields: dict | None = None) -> str:
    """GIVEN a contact enrolled in ``map_id`` as the intake consumer enrolls (gate, run, start)."""
    contact, _ = ContactStore().upsert_by_email(email, fields or {})
    record = enrollment.map_record(map_id)
    assert record is not None
    enrollment.enroll(record, contact.id, event or {"type": "test"}, f"test-{email}")
    return contact.id


def happen(contact_id: str, kind: str, detail: dict) -> None:
    """An event reaches the contact's history and the router (as the table's stream delivers it)."""
    store = ContactStore()
    store.record(contact_id, kind, detail)
    entry = store.history(contact_id, kinds=[kind])[-1]
    sort_key = next(
        item["sk"] for item in store._query(contact_id, "H#") if item["kind"] == kind and item["at"] == entry.at.isoformat().replace("+00:00", "Z")
    )
    router.route_entry(contact_id, sort_key, entry)


def notes(runtime, contact_id: str) -> list[str]:
    return [n["text"] for n in ContactStore().notes(contact_id)]


def kinds(contact_id: str, *wanted: str) -> list[tuple[str, str | None]]:
    return [(e.kind, e.step_id) for e in ContactStore().history(contact_id) if e.kind in wanted]


def test_given_a_contact_in_a_7_day_wait_when_they_buy_then_they_jump_to_the_goal_and_skip_the_pitch(runtime):
    deploy(runtime, "goal-journey")
    contact = enroll("goal-journey", "buyer@example.com")
    runtime.run_until_settled(until=START + timedelta(days=1))
    assert notes(runtime, contact) == ["Day one of the nurture"]

    # WHEN they buy on day 2, while sitting in the 7-day wait
    happen(contact, "purchase.made", {"product": "course", "order_id": "o-1"})
    assert runtime.run_until_settled(timeout=60)

    # THEN the goal pulled them out of the wait: no pitch, the step after the goal ran
    assert notes(runtime, contact) == ["Day one of the nurture", "Thank you for buying"]
    assert ("goal.achieved", "week") in kinds(contact, "goal.achieved")
    assert kinds(contact, "map.exited") == [("map.exited", "Completed")]
    runs = runtime.executions("goal-journey")
    assert sorted(r["status"] for r in runs) == ["ABORTED", "SUCCEEDED"]


def test_given_a_goal_event_delivered_twice_then_the_contact_moves_once(runtime):
    deploy(runtime, "goal-journey")
    contact = enroll("goal-journey", "twice@example.com")
    runtime.run_until_settled(until=START + timedelta(days=1))
    store = ContactStore()
    store.record(contact, "purchase.made", {"product": "course", "order_id": "o-2"})
    item = next(i for i in store._query(contact, "H#") if i["kind"] == "purchase.made")
    entry = HistoryEntry.model_validate(item)

    router.route_entry(contact, item["sk"], entry)
    router.route_entry(contact, item["sk"], entry)  # the stream delivers it again
    assert runtime.run_until_settled(timeout=60)

    assert notes(runtime, contact).count("Thank you for buying") == 1
    assert len(kinds(contact, "goal.achieved")) == 1
    assert len(runtime.executions("goal-journey")) == 2


def test_given_a_contact_who_reaches_the_goal_unachieved_then_they_wait_there_without_a_run_until_they_buy(runtime):
    deploy(runtime, "goal-journey")
    contact = enroll("goal-journey", "slow@example.com")
    assert runtime.run_until_settled(until=START + timedelta(days=8))
    assert notes(runtime, contact) == ["Day one of the nurture", "The pitch"]
    waiting = ContactStore().enrollments(contact, "goal-journey")[0]
    assert (waiting.status, waiting.position["step"], waiting.position["kind"]) == ("waiting", "bought", "goal")

    happen(contact, "purchase.made", {"product": "course", "order_id": "o-3"})
    assert runtime.run_until_settled(timeout=60)

    assert notes(runtime, contact)[-1] == "Thank you for buying"
    assert ContactStore().enrollments(contact, "goal-journey")[0].status == "exited"


def test_given_a_map_goal_when_the_contact_achieves_it_then_they_leave_the_map_from_the_wait(runtime):
    deploy(runtime, "goal-journey")
    contact = enroll("goal-journey", "leaver@example.com")
    runtime.run_until_settled(until=START + timedelta(days=1))

    ContactStore().change_tags(contact, add=["unsubscribed"])
    happen(contact, "tags.changed", {"added": ["unsubscribed"], "removed": []})
    assert runtime.run_until_settled(timeout=60)

    assert notes(runtime, contact) == ["Day one of the nurture"]
    exits = [e for e in ContactStore().history(contact) if e.kind == "map.exited"]
    assert [e.detail["reason"] for e in exits] == ["goal:unsubscribed"]
    assert enrollment.active_enrollment(contact, "goal-journey") is None


def test_given_an_abandoned_cart_when_that_cart_is_bought_then_the_wait_ends_and_another_cart_does_not_count(runtime):
    deploy(runtime, "wait-until-journey")
    contact = enroll("wait-until-journey", "cart@example.com", {"type": "event", "cart_id": "c-42"})
    runtime.run_until_settled(until=START + timedelta(hours=1))

    happen(contact, "purchase.made", {"product": "mug", "order_id": "o-9", "cart_id": "c-7"})  # another cart
    runtime.run_until_settled(until=START + timedelta(hours=2))
    assert notes(runtime, contact) == []

    happen(contact, "purchase.made", {"product": "mug", "order_id": "o-10", "cart_id": "c-42"})
    assert runtime.run_until_settled(timeout=60)

    assert notes(runtime, contact) == ["Cart c-42 settled"]
    assert [e.detail.get("on") for e in ContactStore().history(contact) if e.kind == "wait.met"] == ["change"]


def test_given_an_abandoned_cart_never_bought_then_the_wait_times_out_after_a_day_and_goes_on(runtime):
    deploy(runtime, "wait-until-journey")
    contact = enroll("wait-until-journey", "never@example.com", {"type": "event", "cart_id": "c-1"})
    assert runtime.run_until_settled(timeout=60)

    assert notes(runtime, contact) == ["Cart c-1 settled"]
    timed_out = [e for e in ContactStore().history(contact) if e.kind == "wait.timed_out"]
    assert len(timed_out) == 1 and timed_out[0].at >= START + timedelta(days=1)
