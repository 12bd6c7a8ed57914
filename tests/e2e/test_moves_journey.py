"""End to end on the local runtime: moving a contact inside and between maps (goals,
wait_until, pause/unpause, add_to_automation with return, remove), all through the one
"continue from state S" mechanism (automaps.journeys.moves), on the virtual clock.

Maps: tests/e2e/maps/goal-journey.yaml, wait-until-journey.yaml, pause-target.yaml,
caller-journey.yaml."""

from __future__ import annotations

from datetime import datetime, timedelta

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
    """An event reaches the contact's history; the table's stream takes it to the router."""
    ContactStore().record(contact_id, kind, detail)


def tag(contact_id: str, name: str) -> None:
    """Another part of the system tags the contact (tags.changed reaches the router)."""
    import uuid

    from automaps.store.contacts import Effect

    ContactStore().change_tags(contact_id, add=[name], effect=Effect(visit=uuid.uuid4().hex, kind="tags.changed"))


def until(runtime, moment) -> None:
    """Let the system run until ``moment`` of virtual time (also when nothing is running)."""
    runtime.run_until_settled(until=moment)
    if runtime.clock.now() < moment:
        runtime.clock.advance((moment - runtime.clock.now()).total_seconds())


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

    router.route_entry(contact, item["sk"], entry)  # the stream delivered it, and delivers it again
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

    assert sorted(notes(runtime, contact)) == ["Day one of the nurture", "Thank you for buying", "The pitch"]
    assert ContactStore().enrollments(contact, "goal-journey")[0].status == "exited"


def test_given_a_map_goal_when_the_contact_achieves_it_then_they_leave_the_map_from_the_wait(runtime):
    deploy(runtime, "goal-journey")
    contact = enroll("goal-journey", "leaver@example.com")
    runtime.run_until_settled(until=START + timedelta(days=1))

    tag(contact, "unsubscribed")
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


# ---------------------------------------------------------------- pause and unpause


def note_times(contact_id: str) -> list[tuple[str, int]]:
    """(note text, whole days since START) of the contact's notes, in order."""
    return [(n["text"], (datetime.fromisoformat(n["at"]) - START).days)
            for n in ContactStore().notes(contact_id)]


def test_given_a_contact_paused_during_a_wait_when_unpaused_days_later_then_they_continue_from_the_wait(runtime):
    deploy(runtime, "pause-target", "pauser", "unpauser")
    contact = enroll("pause-target", "paused@example.com")
    runtime.run_until_settled(until=START + timedelta(days=1))

    # WHEN another map pauses them on day 1, in the 2-day wait
    tag(contact, "hold")
    until(runtime, START + timedelta(days=10))
    # THEN nothing more happens while paused, and their run stopped (no open execution)
    assert note_times(contact) == [("Welcome to onboarding", 0)]
    held = ContactStore().enrollments(contact, "pause-target")[0]
    assert (held.status, held.position["step"]) == ("paused", "two-days")
    assert [r["status"] for r in runtime.executions("pause-target")] == ["ABORTED"]

    # WHEN another map unpauses them on day 10: the wait's moment passed while paused, so it ends at once
    tag(contact, "resume")
    assert runtime.run_until_settled(timeout=60)
    assert note_times(contact) == [("Welcome to onboarding", 0), ("Onboarding tips", 10), ("Onboarding done", 15)]
    assert [k for k, _ in kinds(contact, "automation.paused", "automation.unpaused")] == [
        "automation.paused", "automation.unpaused"]


def test_given_a_contact_paused_twice_or_unpaused_when_not_paused_then_each_is_a_recorded_no_op(runtime):
    deploy(runtime, "pause-target", "pauser", "unpauser")
    contact = enroll("pause-target", "noop@example.com")
    runtime.run_until_settled(until=START + timedelta(hours=1))

    tag(contact, "resume")  # not paused
    runtime.run_until_settled(until=START + timedelta(hours=2))
    tag(contact, "hold")
    runtime.run_until_settled(until=START + timedelta(hours=3))
    ContactStore().change_tags(contact, remove=["hold"])
    tag(contact, "hold")  # paused twice
    runtime.run_until_settled(until=START + timedelta(hours=4))

    skipped = [(e.map_id, e.detail["reason"]) for e in ContactStore().history(contact) if e.kind == "step.skipped"]
    assert ("unpauser", "the contact is not paused on 'pause-target'") in skipped
    assert ("pauser", "the contact is already paused on 'pause-target'") in skipped
    assert len(kinds(contact, "automation.paused")) == 1


# ---------------------------------------------------------------- add to automation, return, remove


def test_given_add_to_automation_with_return_then_the_caller_continues_only_after_the_other_map_ends(runtime):
    deploy(runtime, "pause-target", "caller-journey")
    contact = enroll("caller-journey", "handover@example.com")
    runtime.run_until_settled(until=START + timedelta(days=3))
    assert note_times(contact) == [("Welcome to onboarding", 0), ("Onboarding tips", 2)]
    caller = ContactStore().enrollments(contact, "caller-journey")[0]
    assert (caller.status, caller.position["kind"]) == ("waiting", "return")

    assert runtime.run_until_settled(timeout=60)
    assert sorted(note_times(contact)[-2:]) == [("Back from onboarding", 7), ("Onboarding done", 7)]
    returned = next(e for e in ContactStore().history(contact) if e.kind == "automation.returned")
    done = next(e for e in ContactStore().history(contact) if e.kind == "map.exited" and e.map_id == "pause-target")
    assert returned.at >= done.at
    assert kinds(contact, "automation.returned") == [("automation.returned", "hand-over")]


def test_given_a_contact_removed_from_the_map_they_were_handed_to_then_the_caller_continues(runtime):
    deploy(runtime, "pause-target", "caller-journey", "remover")
    contact = enroll("caller-journey", "removed@example.com")
    runtime.run_until_settled(until=START + timedelta(days=1))

    tag(contact, "stop-onboarding")
    assert runtime.run_until_settled(timeout=60)

    # THEN none of pause-target's further steps ran, both sides recorded it, and the caller went on
    assert note_times(contact) == [("Welcome to onboarding", 0), ("Back from onboarding", 1)]
    removed = [e for e in ContactStore().history(contact) if e.kind in ("automation.removed", "map.exited")]
    assert {(e.kind, e.map_id, e.detail.get("reason")) for e in removed} >= {
        ("automation.removed", "remover", None), ("map.exited", "pause-target", "removed")}
    assert enrollment.active_enrollment(contact, "pause-target") is None


def test_given_two_maps_that_add_each_other_then_the_chain_stops_at_the_depth_limit_and_says_so(runtime):
    deploy(runtime, "ping", "pong")
    contact, _ = ContactStore().upsert_by_email("loop@example.com", {})
    tag(contact.id, "serve")
    assert runtime.run_until_settled(timeout=120)

    entered = [e for e in ContactStore().history(contact.id) if e.kind == "map.enrolled"]
    skipped = [e for e in ContactStore().history(contact.id) if e.kind == "map.enroll_skipped"]
    assert 2 <= len(entered) <= 12
    assert len(skipped) == 1 and "a chain of maps went deeper than 10" in skipped[0].detail["reason"]


def test_given_the_other_map_refuses_the_contact_by_its_entry_rule_then_the_caller_continues_at_once(runtime):
    deploy(runtime, "pause-target", "caller-journey")
    contact = enroll("pause-target", "inside@example.com")   # already inside (entry: after_exit)
    runtime.run_until_settled(until=START + timedelta(hours=1))

    record = enrollment.map_record("caller-journey")
    enrollment.enroll(record, contact, {"type": "test"}, "caller")
    runtime.run_until_settled(until=START + timedelta(hours=2))

    returned = [e for e in ContactStore().history(contact) if e.kind == "automation.returned"]
    assert [e.detail["reason"] for e in returned] == ["not_entered"]
    assert "Back from onboarding" in notes(runtime, contact)
    assert len(runtime.executions("pause-target")) == 1


def test_given_a_map_goal_the_contact_has_already_achieved_then_they_do_not_enter(runtime):
    deploy(runtime, "goal-journey")
    contact, _ = ContactStore().upsert_by_email("gone@example.com", {}, tags=["unsubscribed"])
    record = enrollment.map_record("goal-journey")

    result = enrollment.enroll(record, contact.id, {"type": "test"}, "arrival")
    runtime.run_until_settled(timeout=60)

    assert result.outcome == "skipped" and "the map's goal 'unsubscribed'" in (result.reason or "")
    assert runtime.executions("goal-journey") == []
    assert notes(runtime, contact.id) == []


def test_given_a_paused_contact_when_they_achieve_a_goal_then_they_move_to_it_but_stay_paused_until_unpaused(runtime):
    from automaps.journeys import moves

    deploy(runtime, "goal-journey")
    contact = enroll("goal-journey", "paused-buyer@example.com")
    runtime.run_until_settled(until=START + timedelta(days=1))
    assert moves.pause(ContactStore().enrollments(contact, "goal-journey")[0], "test pause")

    # WHEN they buy while paused in the 7-day wait
    happen(contact, "purchase.made", {"product": "course", "order_id": "o-p"})
    until(runtime, START + timedelta(days=2))

    # THEN their position is past the goal, nothing ran, and they are still paused
    held = ContactStore().enrollments(contact, "goal-journey")[0]
    assert (held.status, held.position["state"], held.position["stopped"]) == ("paused", "thanks", True)
    assert notes(runtime, contact) == ["Day one of the nurture"]

    # WHEN unpaused: on from the goal (not the pitch)
    assert moves.unpause(held, "test unpause")
    assert runtime.run_until_settled(timeout=60)
    assert notes(runtime, contact) == ["Day one of the nurture", "Thank you for buying"]
