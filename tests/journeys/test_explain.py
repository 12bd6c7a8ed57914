"""Explaining a contact from the history (automaps.journeys.explain), on moto: the histories are
written by the real writers (the step runner, check_condition, record_failure, the enrollment
gate, positions and moves), the maps are maps/welcome-leads.yaml and the test map
tests/e2e/maps/goal-journey.yaml. What is read: one Query of the contact's partition, the profile,
and the registry only when no maps are given."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from automaps import aws as aws_clients
from automaps import clock as app_clock
from automaps.journeys import enrollment, journey, moves, positions, steps
from automaps.journeys import explain as explaining
from automaps.maps.loader import load_map
from automaps.store.contacts import ContactStore
from automaps.store.content import ContentStore
from tests.actions.sending import shipped_template
from tests.conftest import ROOT, load_event

WELCOME = load_map(ROOT / "maps" / "welcome-leads.yaml")
GOALS = load_map(ROOT / "tests" / "e2e" / "maps" / "goal-journey.yaml")
MAPS = {"welcome-leads": WELCOME, "goal-journey": GOALS}
ENROLLMENT = "e_5f1c0a9b8e7d6c5b4a392817"
RUN = load_event("send_email.json")["execution_id"]
MONDAY = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # 09:00 in New York
FORM = {"type": "form_submitted", "form": "newsletter", "submission_id": "s_1"}


def visit(contact_id: str, fixture: str, state: str, **changes: Any) -> dict[str, Any]:
    """The fixture task event of one visit of ``state`` for the contact, entered now."""
    return {**load_event(fixture), "contact_id": contact_id, "enrollment_id": ENROLLMENT, "step_id": state,
            "execution_id": RUN, "state_name": state, "state_entered_time": app_clock.iso(), **changes}


@pytest.fixture
def monday(aws, clock):
    """GIVEN the clock at Monday 2026-11-23 14:00 UTC (09:00 in New York)."""
    clock.at = MONDAY
    return clock


@pytest.fixture
def jane(monday) -> str:
    """GIVEN Jane (30, New York) signed up on Monday 2026-11-23 09:00 New York: enrolled in
    welcome-leads, tagged and sent the welcome email by the step runner, and two days later the
    engaged check found no open."""
    shipped_template("welcome")
    contact, _ = ContactStore().upsert_by_email("jane@example.com", {"first_name": "Jane", "age": 30,
                                                                      "timezone": "America/New_York"})
    ContactStore().create_enrollment(contact.id, "welcome-leads", ENROLLMENT, FORM, run=RUN)
    ContactStore().record(contact.id, "map.enrolled", {"enrollment_id": ENROLLMENT, "trigger": "form_submitted"},
                          map_id="welcome-leads")
    steps.run_action(visit(contact.id, "change_tags.json", "tag-lead"))
    steps.run_action(visit(contact.id, "send_email.json", "welcome-email"))
    monday.advance(days=2)
    journey.check_condition(journey.ConditionCheck.model_validate(visit(
        contact.id, "check_condition.json", "engaged", condition=WELCOME.steps[3].model_dump(
            mode="json", by_alias=True)["if"])))
    return contact.id


def test_given_a_contact_under_45_when_asked_why_not_the_nudge_then_the_only_if_and_the_age_it_saw_say_so(jane, monday):
    monday.advance(hours=4)
    steps.run_action(visit(jane, "send_email.json", "nudge-email", settings={"template": "nudge"},
                           only_if={"field": {"name": "age", "gt": 45}}))

    told = explaining.why_not(jane, "welcome-leads", "nudge-email", maps=MAPS)

    assert told.why_not is not None and told.why_not.verdict == "skipped"
    assert told.why_not.reasons[0].endswith(
        "nudge-email: skipped: only_if field age > 45 was false (field age is 30 (wanted gt 45) -> no)")
    text = told.text()
    assert "2026-11-23 09:00  tag-lead: tags added lead, newsletter" in text
    assert "2026-11-23 09:00  welcome-email: email sent (template welcome, to j***@example.com)" in text
    assert ("2026-11-25 09:00  engaged: if opened email 'welcome-email' or clicked link 'welcome-email' -> no "
            "(opened email welcome-email: no open since it was sent 2026-11-23 09:00 America/New_York -> no;") in text


def test_given_the_engaged_check_went_else_then_the_story_says_where_they_are_and_what_comes_next(jane):
    [story] = explaining.explain(jane, maps=MAPS).maps
    [journey_] = story.journeys
    assert journey_.entered_by == "by the form 'newsletter', submission s_1"
    assert journey_.now == "at step engaged since 2026-11-25 09:00 America/New_York (running)"
    assert journey_.next == "then the map ends (completed)"   # the if is the last step: its branch runs first
    assert [e.kind for e in journey_.events] == ["step.done", "step.done", "condition.evaluated"]


def test_given_a_send_that_failed_after_its_retries_when_asked_then_the_error_is_the_reason(jane):
    journey.record_failure(journey.FailureRecord.model_validate(
        {**load_event("record_failure.json"), "contact_id": jane, "step_id": "thank-you-sms"}))

    answer = explaining.why_not(jane, "welcome-leads", "thank-you-sms", maps=MAPS).why_not

    assert answer is not None and answer.verdict == "failed"
    assert answer.reasons[0].endswith("thank-you-sms: failed: TransientError after retries "
                                      "(TransientError: SES throttled the send (ThrottlingException))")


def pushed(map_: Any) -> None:
    """GIVEN the map registered as ``automaps push`` registers it (MapRecord with its source)."""
    from automaps_local.push import map_record

    arn = f"arn:aws:states:us-east-1:123456789012:stateMachine:automaps-{map_.id}:live"
    ContentStore().put("MAP", map_.id, map_record(map_, arn, "v1").model_dump(mode="json"))


def test_given_a_paused_contact_then_now_says_paused_since_when_and_next_waits_for_the_unpause(jane, monday):
    pushed(WELCOME)
    monday.advance(minutes=5)
    assert moves.pause(ContactStore().get_enrollment(jane, "welcome-leads", ENROLLMENT), "pause by hand")

    [journey_] = explaining.explain(jane, maps=MAPS).maps[0].journeys

    assert journey_.status == "paused"
    assert journey_.now == "paused at engaged since 2026-11-25 09:05 America/New_York"
    assert journey_.next.startswith("nothing until they are unpaused; then engaged decides: if opened email")


def test_given_a_live_edit_removed_their_step_when_asked_why_not_a_later_step_then_they_left_before_it(jane, monday):
    monday.advance(hours=1)
    assert ContactStore().mark_exited(jane, "welcome-leads", ENROLLMENT, "step_removed")

    answer = explaining.why_not(jane, "welcome-leads", "thank-you-sms", maps=MAPS).why_not

    assert answer is not None
    assert answer.verdict == "branch", "the branch went the other way first: that is the reason given"
    answer = explaining.why_not(jane, "welcome-leads", "nudge-email", maps=MAPS).why_not
    assert answer is not None and answer.verdict == "exited"
    assert answer.reasons[0].endswith("they left the map 2026-11-25 10:00 America/New_York at engaged before "
                                      "reaching it: a live edit removed the step they were on")


def test_given_a_contact_who_never_signed_up_then_no_entry_matches_the_trigger(monday):
    contact, _ = ContactStore().upsert_by_email("nobody-yet@example.com", {"timezone": "Europe/Paris"})

    answer = explaining.why_not(contact.id, "welcome-leads", "welcome-email", maps=MAPS).why_not

    assert answer is not None and answer.verdict == "not_enrolled"
    assert answer.reasons == ["they never entered the map",
                              "no history entry matches the trigger form_submitted 'newsletter'"]


def test_given_a_map_goal_already_met_when_the_contact_arrives_then_the_refusal_is_the_reason(monday):
    from automaps_local.push import map_record

    contact, _ = ContactStore().upsert_by_email("gone@example.com", {})
    ContactStore().change_tags(contact.id, add=["unsubscribed"])
    record = map_record(GOALS, "arn:aws:states:us-east-1:123456789012:stateMachine:automaps-goal-journey:live", "v1")
    assert enrollment.enroll(record, contact.id, {**FORM, "at": app_clock.iso()}, "cause-1").outcome == "skipped"

    told = explaining.why_not(contact.id, "goal-journey", "pitch", maps=MAPS)

    assert told.why_not is not None and told.why_not.verdict == "refused"
    assert told.why_not.reasons == [
        "they never entered the map",
        "entry refused 2026-11-23 14:00 UTC: the contact has already achieved the map's goal 'unsubscribed'"]
    assert "Times in UTC (no timezone known)" in told.text()


def test_given_a_contact_parked_at_a_goal_then_now_names_what_it_waits_for_and_next_the_step_after(monday):
    contact, _ = ContactStore().upsert_by_email("buyer@example.com", {"timezone": "Europe/Paris"})
    run = "arn:aws:states:us-east-1:123456789012:execution:automaps-goal-journey:goal-journey-e_1"
    ContactStore().create_enrollment(contact.id, "goal-journey", "e_1", FORM, run=run)
    at_goal = positions.Position(step="bought", state="bought", kind="goal", since=app_clock.iso(),
                                 awaiting={"kind": "goal", "event": {"kind": "purchase.made"}}, next="thanks")
    positions.enter(contact.id, "goal-journey", "e_1", run, at_goal)
    positions.park(contact.id, "goal-journey", "e_1", run)

    [journey_] = explaining.explain(contact.id, maps=MAPS).maps[0].journeys

    assert journey_.now == "waiting at goal bought for the event purchase.made, with no timeout"
    assert journey_.next == "when it happens: thanks (add_note)"


def test_given_names_for_a_contact_then_find_contact_takes_an_email_a_phone_or_an_id(monday):
    by_email, _ = ContactStore().upsert_by_email("Mixed.Case@Example.com", {})
    by_phone = ContactStore().create_contact({}, phone="+1 415 555 0134")
    assert by_phone is not None

    assert explaining.find_contact("mixed.case@example.com") == by_email.id
    assert explaining.find_contact("+14155550134") == by_phone.id
    assert explaining.find_contact(by_email.id) == by_email.id
    assert [explaining.find_contact(x) for x in ("nobody@example.com", "+14155559999", "c_nope", "", "@")] == [
        None, None, None, None, None]


def test_given_unknown_names_then_the_errors_say_what_was_not_found(jane):
    with pytest.raises(explaining.UnknownContact, match="no contact 'c_nope'"):
        explaining.explain("c_nope", maps=MAPS)
    with pytest.raises(explaining.UnknownStep, match="map 'welcome-leads' has no step 'thanks'; its steps: tag-lead"):
        explaining.why_not(jane, "welcome-leads", "thanks", maps=MAPS)
    with pytest.raises(explaining.UnknownMap, match="no map 'nope' among goal-journey, welcome-leads"):
        explaining.why_not(jane, "nope", "thanks", maps=MAPS)
    with pytest.raises(explaining.UnknownContact, match="'n\\*\\*\\*@example.com'"):
        explaining.answer("nobody@example.com", maps=MAPS)
    with pytest.raises(explaining.UnknownStep, match="in several maps|no deployed map has a step 'tipz'"):
        explaining.answer("jane@example.com", why_not_step="tipz", maps=MAPS)


def test_given_maps_as_pushed_then_explain_reads_one_query_the_profile_and_each_map_record_once(jane):
    pushed(WELCOME)

    with_maps, seen = operations(lambda: explaining.explain(jane, maps=MAPS))
    registry, read = operations(lambda: explaining.explain(jane))

    assert seen == ["GetItem", "Query"]                  # the profile, the partition
    assert read == ["GetItem", "Query", "GetItem"]       # and MAP#welcome-leads (MapRecord.source)
    assert registry.maps[0].name == "Welcome new leads"
    assert registry.maps[0].journeys[0].next == with_maps.maps[0].journeys[0].next
    assert registry.to_dict()["maps"][0]["journeys"][0]["events"][0] == {
        "at": "2026-11-23T14:00:00Z", "kind": "step.done", "step": "tag-lead", "text": "tag-lead: tags added lead, newsletter"}


def operations(call) -> tuple[Any, list[str]]:
    """What ``call`` returns and the DynamoDB operations it made (botocore's before-call events)."""
    seen: list[str] = []

    def count(model: Any, **_: Any) -> None:
        seen.append(model.name)

    client = aws_clients.client("dynamodb")
    client.meta.events.register("before-call.dynamodb", count)
    try:
        result = call()
    finally:
        client.meta.events.unregister("before-call.dynamodb", count)
    return result, seen


def test_given_a_purchase_during_the_week_when_asked_why_not_the_pitch_then_the_goal_jump_is_the_reason(monday):
    pushed(GOALS)
    contact, _ = ContactStore().upsert_by_email("buyer@example.com", {})
    run = "arn:aws:states:us-east-1:123456789012:execution:automaps-goal-journey:goal-journey-e_1"
    ContactStore().create_enrollment(contact.id, "goal-journey", "e_1", FORM, run=run)
    week = positions.Position(step="week", state="week", kind="wait", since=app_clock.iso(), until="2026-11-30T14:00:00Z")
    positions.enter(contact.id, "goal-journey", "e_1", run, week)
    monday.advance(days=1)
    held = ContactStore().get_enrollment(contact.id, "goal-journey", "e_1")
    moves.record_once(held, "entry\nH#x", "goal.achieved", {"entry": "H#x", "by": "purchase.made", "goal": "bought",
                                                              "from_step": "week"})

    answer = explaining.why_not(contact.id, "goal-journey", "pitch", maps=MAPS).why_not

    assert answer is not None and answer.verdict == "goal_jump"
    assert answer.reasons[0].endswith("at 2026-11-24 14:00 UTC the goal bought was achieved (by purchase.made) while "
                                      "they were at week: they jumped to it, past pitch")


def test_given_a_step_a_live_edit_removed_when_asked_about_it_then_its_history_answers_and_says_it_is_gone(jane):
    ContactStore().record(jane, "step.done", {"action": "add_note", "enrollment_id": ENROLLMENT},
                          map_id="welcome-leads", step_id="old-tip", enrollment_id=ENROLLMENT)

    answer = explaining.why_not(jane, "welcome-leads", "old-tip", maps=MAPS).why_not

    assert answer is not None and answer.verdict == "reached"
    assert answer.reasons[0] == "it did reach them at 2026-11-25 09:00 America/New_York: old-tip: done (add_note)"
    assert answer.reasons[1] == "the map as pushed now has no step 'old-tip': a live edit removed it"


def test_given_a_map_no_longer_in_the_registry_then_its_story_is_told_from_the_history_alone(jane):
    told = explaining.explain(jane)   # nothing pushed: the registry has no welcome-leads

    [story] = told.maps
    assert (story.map_id, story.known, story.name) == ("welcome-leads", False, None)
    assert story.journeys[0].next is None
    assert "(its definition is not in the registry: steps are told from the history alone)" in told.text()
    assert "engaged: if opened email 'welcome-email' or clicked link 'welcome-email' -> no" in told.text()
    with pytest.raises(explaining.UnknownMap, match="no map 'welcome-leads' in the registry"):
        explaining.why_not(jane, "welcome-leads", "nudge-email")
