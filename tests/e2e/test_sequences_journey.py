"""End to end on the local runtime: Ontraport's legacy sequences and Sales Jet's follow-ups.

A sequence is a map of ``kind: sequence`` entered only by ``add_to_sequence``; a follow-up is a
map of ``kind: follow_up`` entered only by ``start_follow_up``. Both go through the one routing
path: the adding step writes ``automation.added`` on the contact's history, the contacts table's
stream hands the entry to the router (RouteEventsFunction), which enrolls the contact through the
target's ``added_to_automation`` trigger. The seed's rules: a step sequence returns the caller
after its last step (unless ``unsubscribe_after_last_step: false``); a date sequence returns only
when the contact is removed; a follow-up runs beside its caller and ``stop_follow_up`` cancels the
rest of it. Maps: tests/e2e/maps/seq-*.yaml and followup-*.yaml."""

from __future__ import annotations

from datetime import timedelta

import pytest

from automaps.journeys import enrollment
from automaps.store.contacts import ContactStore
from tests.conftest import ROOT
from tests.e2e.conftest import START

pytestmark = pytest.mark.slow

MAPS = ROOT / "tests/e2e/maps"


def deploy(runtime, *names: str) -> None:
    for name in names:
        runtime.stack.deploy_map(MAPS / f"{name}.yaml")


def enroll(map_id: str, email: str, fields: dict | None = None, cause: str = "") -> str:
    """GIVEN a contact enrolled in ``map_id`` as the intake consumer enrolls (gate, run, start)."""
    contact, _ = ContactStore().upsert_by_email(email, {})
    if fields:
        ContactStore().update_fields(contact.id, fields)
    record = enrollment.map_record(map_id)
    assert record is not None
    enrollment.enroll(record, contact.id, {"type": "test"}, f"test-{map_id}-{email}-{fields}{cause}")
    return contact.id


def until(runtime, moment) -> None:
    """Let the system run until ``moment`` of virtual time (also when nothing is running)."""
    runtime.run_until_settled(until=moment)
    if runtime.clock.now() < moment:
        runtime.clock.advance((moment - runtime.clock.now()).total_seconds())


def notes(contact_id: str) -> list[str]:
    """The contact's notes in time order (notes written at the same virtual moment: by text)."""
    return [n["text"] for n in sorted(ContactStore().notes(contact_id), key=lambda n: n["at"])]


def noted_at(contact_id: str, text: str) -> str:
    return next(n["at"] for n in ContactStore().notes(contact_id) if n["text"] == text)


def iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def kinds(contact_id: str, *wanted: str) -> list[str]:
    return [e.kind for e in ContactStore().history(contact_id) if e.kind in wanted]


def status(contact_id: str, map_id: str) -> str | None:
    found = sorted(ContactStore().enrollments(contact_id, map_id), key=lambda e: e.started_at)
    return found[-1].status if found else None


# ---------------------------------------------------------------- sequences


def test_given_a_step_sequence_when_a_map_adds_a_contact_then_they_return_to_the_map_after_its_last_step(runtime):
    # GIVEN the step sequence seq-steps (3 lessons over 3 days) and a map that adds to it with return
    deploy(runtime, "seq-steps", "seq-caller-steps")
    contact = enroll("seq-caller-steps", "learner@example.com")

    # WHEN the map runs: add_to_sequence writes automation.added, the stream takes it to the router
    assert not runtime.run_until_settled(until=START + timedelta(hours=1))  # the sequence waits a day

    # THEN the router enrolled the contact in the sequence through added_to_automation, and the
    # caller waits at its next step while the sequence runs
    [added] = [e for e in ContactStore().history(contact) if e.kind == "automation.added"]
    assert added.detail["map"] == "seq-steps" and added.detail["waiting"] is True
    assert status(contact, "seq-steps") == "active"
    assert status(contact, "seq-caller-steps") == "waiting"
    assert notes(contact) == ["Lesson one"]

    # WHEN the sequence's last step has run (day 3)
    assert runtime.run_until_settled(until=START + timedelta(days=4))

    # THEN the contact left the sequence (completed) and came back to the map's next step
    assert sorted(notes(contact)[:2]) == ["Lesson one", "Lesson two"]
    assert sorted(notes(contact)[2:]) == ["Back from seq-steps", "Lesson three"]
    assert noted_at(contact, "Back from seq-steps") >= noted_at(contact, "Lesson three")
    assert status(contact, "seq-steps") == "exited"
    assert status(contact, "seq-caller-steps") == "exited"
    [returned] = [e for e in ContactStore().history(contact) if e.kind == "automation.returned"]
    assert returned.detail == {**returned.detail, "from_map": "seq-steps", "reason": "completed"}
    assert noted_at(contact, "Back from seq-steps") == iso(START + timedelta(days=3))


def test_given_a_sequence_that_keeps_contacts_after_its_last_step_then_they_return_only_when_removed(runtime):
    # GIVEN seq-stay (unsubscribe_after_last_step: false) and a map that adds to it with return
    deploy(runtime, "seq-stay", "seq-caller-stay", "seq-control")
    contact = enroll("seq-caller-stay", "reader@example.com")

    # WHEN the sequence's last step has run, and a week passes
    until(runtime, START + timedelta(days=8))

    # THEN the contact stays in the sequence (recorded) and has not come back to the map
    assert notes(contact) == ["Digest one", "Digest two"]
    assert kinds(contact, "sequence.finished") == ["sequence.finished"]
    assert status(contact, "seq-stay") == "waiting"
    assert status(contact, "seq-caller-stay") == "waiting"
    assert kinds(contact, "automation.returned") == []

    # WHEN another map removes them from the sequence
    enroll("seq-control", "reader@example.com", {"seq_action": "remove-stay"})
    assert runtime.run_until_settled(until=START + timedelta(days=9))

    # THEN they leave the sequence (removed) and return to the calling map's next step
    assert notes(contact) == ["Digest one", "Digest two", "Back from seq-stay"]
    assert noted_at(contact, "Back from seq-stay") == iso(START + timedelta(days=8))
    exits = [(e.map_id, e.detail["reason"]) for e in ContactStore().history(contact) if e.kind == "map.exited"]
    assert ("seq-stay", "removed") in exits and ("seq-caller-stay", "completed") in exits
    [returned] = [e for e in ContactStore().history(contact) if e.kind == "automation.returned"]
    assert (returned.detail["from_map"], returned.detail["reason"]) == ("seq-stay", "removed")


def test_given_a_date_sequence_when_its_last_date_has_passed_then_the_contact_returns_only_when_removed(runtime):
    # GIVEN the date sequence seq-dates (1 December, 24 December) and a map that adds to it with return
    deploy(runtime, "seq-dates", "seq-caller-dates", "seq-control")
    contact = enroll("seq-caller-dates", "holiday@example.com")

    # WHEN both dates have passed (into January)
    until(runtime, START + timedelta(days=45))

    # THEN both steps ran on their dates, and the contact is still in the sequence: no return
    assert notes(contact) == ["Advent offer", "Christmas offer"]
    assert noted_at(contact, "Christmas offer") == "2026-12-24T09:00:00Z"
    assert status(contact, "seq-dates") == "waiting"
    assert status(contact, "seq-caller-dates") == "waiting"

    # WHEN another map removes them from the date sequence
    enroll("seq-control", "holiday@example.com", {"seq_action": "remove-dates"})
    assert runtime.run_until_settled(until=START + timedelta(days=46))

    # THEN they come back to the calling map
    assert "Back from seq-dates" in notes(contact)[-2:]
    assert status(contact, "seq-dates") == "exited" and status(contact, "seq-caller-dates") == "exited"


def test_given_a_contact_paused_on_a_sequence_when_unpaused_days_later_then_the_rest_runs_from_there(runtime):
    # GIVEN a contact in seq-steps (lesson one ran, a 1-day wait), added by a map with return
    deploy(runtime, "seq-steps", "seq-caller-steps", "seq-control")
    contact = enroll("seq-caller-steps", "pause@example.com")
    until(runtime, START + timedelta(hours=2))

    # WHEN another map pauses them on the sequence, and 5 days pass
    enroll("seq-control", "pause@example.com", {"seq_action": "pause-steps"})
    until(runtime, START + timedelta(days=5))

    # THEN they sat on the wait: nothing more ran, no return
    assert notes(contact) == ["Lesson one"]
    assert status(contact, "seq-steps") == "paused"
    assert kinds(contact, "automation.paused") == ["automation.paused"]

    # WHEN unpaused on day 5 (the 1-day wait's moment passed while paused)
    enroll("seq-control", "pause@example.com", {"seq_action": "unpause-steps"})
    runtime.run_until_settled(until=START + timedelta(days=5, hours=1))

    # THEN the wait ends at once: lesson two on day 5, then the 2-day wait runs as usual
    assert notes(contact) == ["Lesson one", "Lesson two"]
    assert noted_at(contact, "Lesson two") == iso(START + timedelta(days=5))
    assert runtime.run_until_settled(until=START + timedelta(days=10))
    assert noted_at(contact, "Lesson three") == iso(START + timedelta(days=7))
    assert "Back from seq-steps" in notes(contact)[-2:]  # at the same virtual time as the last lesson
    assert kinds(contact, "automation.unpaused") == ["automation.unpaused"]


# ---------------------------------------------------------------- follow-ups


def test_given_a_follow_up_when_a_map_starts_it_then_it_runs_for_the_contact_while_the_map_goes_on(runtime):
    # GIVEN the follow-up followup-calls (3 calls over 3 days) and a map that starts it
    deploy(runtime, "followup-calls", "followup-starter")
    contact = enroll("followup-starter", "prospect@example.com")

    # WHEN the map runs
    runtime.run_until_settled(until=START + timedelta(hours=1))

    # THEN the map went on at once and ended, while the follow-up runs on its own
    assert sorted(notes(contact)) == ["Call them today", "Demo request logged"]
    assert status(contact, "followup-starter") == "exited"
    assert status(contact, "followup-calls") == "active"
    [added] = [e for e in ContactStore().history(contact) if e.kind == "automation.added"]
    assert (added.detail["map"], added.detail["waiting"]) == ("followup-calls", False)

    # WHEN its days pass
    assert runtime.run_until_settled(until=START + timedelta(days=4))

    # THEN every action of the follow-up ran, on its delays
    assert notes(contact)[-2:] == ["Call them again", "Last call"]
    assert noted_at(contact, "Last call") == iso(START + timedelta(days=3))
    assert status(contact, "followup-calls") == "exited"


def test_given_a_running_follow_up_when_stop_follow_up_runs_then_none_of_its_remaining_actions_run(runtime):
    # GIVEN a contact whose follow-up has made its first call and waits a day
    deploy(runtime, "followup-calls", "followup-starter", "followup-stopper")
    contact = enroll("followup-starter", "booked@example.com")
    runtime.run_until_settled(until=START + timedelta(hours=1))

    # WHEN another map stops the follow-up (the demo was booked)
    enroll("followup-stopper", "booked@example.com")
    assert runtime.run_until_settled(until=START + timedelta(days=10))

    # THEN none of the remaining calls ran; the follow-up was left (removed), recorded on both sides
    assert "Call them again" not in notes(contact) and "Last call" not in notes(contact)
    assert "Follow-up cancelled" in notes(contact)
    assert status(contact, "followup-calls") == "exited"
    exits = {e.map_id: e.detail["reason"] for e in ContactStore().history(contact) if e.kind == "map.exited"}
    assert exits["followup-calls"] == "removed"
    [removed] = [e for e in ContactStore().history(contact) if e.kind == "automation.removed"]
    assert (removed.map_id, removed.detail["map"]) == ("followup-stopper", "followup-calls")
    assert [r["status"] for r in runtime.executions("followup-calls")] == ["ABORTED"]


def test_given_a_contact_still_in_a_sequence_when_added_again_then_its_entry_rule_refuses_and_they_return_at_once(
    runtime,
):
    # GIVEN a contact who stays subscribed to seq-stay after its last step
    deploy(runtime, "seq-stay", "seq-caller-stay", "seq-caller-again")
    contact = enroll("seq-caller-stay", "twice@example.com")
    until(runtime, START + timedelta(days=2))
    assert status(contact, "seq-stay") == "waiting"

    # WHEN another map adds them to seq-stay with return (entry: after_exit, they have not left)
    enroll("seq-caller-again", "twice@example.com")
    until(runtime, START + timedelta(days=2, hours=1))

    # THEN the sequence refused them (recorded) and the second map went on at once: no one is stranded
    assert kinds(contact, "map.enroll_skipped") == ["map.enroll_skipped"]
    assert notes(contact)[-1] == "Back at once"
    assert status(contact, "seq-caller-again") == "exited"
    returned = [e.detail for e in ContactStore().history(contact) if e.kind == "automation.returned"]
    assert [(r["from_map"], r["reason"]) for r in returned] == [("seq-stay", "not_entered")]
    # AND the first run is untouched: still subscribed, its caller still waiting
    assert (status(contact, "seq-stay"), status(contact, "seq-caller-stay")) == ("waiting", "waiting")


def test_given_a_sequence_whose_trigger_only_if_refuses_the_contact_then_the_caller_does_not_wait_forever(runtime):
    # GIVEN seq-vip (only_if: has_tag vip) and a contact without the tag
    deploy(runtime, "seq-vip", "seq-caller-vip")
    contact = enroll("seq-caller-vip", "plain@example.com")

    # WHEN the caller adds them with return and the router sees the automation.added entry
    until(runtime, START + timedelta(days=1))

    # THEN they never entered the sequence, and the caller went on rather than waiting for a return
    assert ContactStore().enrollments(contact, "seq-vip") == []
    assert notes(contact) == ["Back from seq-vip"]
    assert status(contact, "seq-caller-vip") == "exited"


def test_given_a_contact_paused_on_a_sequence_when_paused_again_then_it_is_a_recorded_no_op(runtime):
    # GIVEN a contact paused on seq-steps
    deploy(runtime, "seq-steps", "seq-caller-steps", "seq-control")
    contact = enroll("seq-caller-steps", "again@example.com")
    until(runtime, START + timedelta(hours=1))
    enroll("seq-control", "again@example.com", {"seq_action": "pause-steps"})
    until(runtime, START + timedelta(hours=2))

    # WHEN another run pauses them again
    enroll("seq-control", "again@example.com", {"seq_action": "pause-steps"}, cause="-again")
    until(runtime, START + timedelta(hours=3))

    # THEN nothing moved: one pause, and the second is a skipped step saying why
    assert kinds(contact, "automation.paused") == ["automation.paused"]
    skipped = [e for e in ContactStore().history(contact) if e.kind == "step.skipped" and e.map_id == "seq-control"]
    assert [e.detail["reason"] for e in skipped] == ["the contact is already paused on 'seq-steps'"]
    assert status(contact, "seq-steps") == "paused" and notes(contact) == ["Lesson one"]


def test_given_add_to_sequence_naming_a_follow_up_then_the_step_fails_naming_it_and_the_map_goes_on(runtime):
    deploy(runtime, "followup-calls", "seq-caller-wrong")
    contact = enroll("seq-caller-wrong", "wrong@example.com")

    assert runtime.run_until_settled(until=START + timedelta(hours=1))

    [failed] = [e for e in ContactStore().history(contact) if e.kind == "step.failed"]
    assert failed.step_id == "wrong-kind"
    assert "'followup-calls' is a follow-up, not a sequence" in str(failed.detail), failed.detail
    assert notes(contact) == ["Went on after the failed step"]
    assert ContactStore().enrollments(contact, "followup-calls") == []
