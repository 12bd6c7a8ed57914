"""Course subscriptions from the platform: subscribed and unsubscribed events change the stored
subscription (what has_subscription asks) as well as the history."""

from __future__ import annotations

from datetime import UTC, datetime

from automaps.store.commerce import CommerceStore
from automaps.store.contacts import ContactStore
from functions.add_course_subscription import app as subscribe_step
from tests.actions.conftest import event_for

COURSE = "copywriting-basics"


def course_event(type_: str, id_: str, occurred_at: str, **fields) -> dict:
    return {"id": id_, "type": type_, "email": "jane@example.com", "occurred_at": occurred_at, "course": COURSE,
            **fields}


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def test_given_a_subscription_when_the_platform_says_unsubscribed_then_it_ends_and_is_no_longer_active(
        jane, sender, clock):
    sender.post(course_event("course.subscribed", "s1", "2026-10-01T00:00:00Z", plan="monthly"))
    assert CommerceStore().has_active_course_subscription(jane.id, COURSE)

    result = sender.post(course_event("course.unsubscribed", "u1", "2026-11-01T12:00:00Z"))["json"]["results"][0]

    assert result["status"] == "accepted" and "reason" not in result
    sub = CommerceStore().course_subscription(jane.id, COURSE)
    assert sub.ended_at == when("2026-11-01T12:00:00Z") and sub.plan == "monthly"
    assert not CommerceStore().has_active_course_subscription(jane.id, COURSE)
    assert not CommerceStore().has_active_course_subscription(jane.id)
    assert CommerceStore().has_active_course_subscription(jane.id, COURSE, now=when("2026-11-01T11:59:00Z"))
    (ended,) = ContactStore().events(jane.id, "course.unsubscribed")
    assert ended.detail == {"course": COURSE, "plan": "monthly"} and ended.at == when("2026-11-01T12:00:00Z")


def test_given_an_ended_subscription_when_subscribed_again_then_it_is_active_from_the_new_start(jane, sender):
    sender.post({"events": [course_event("course.subscribed", "s1", "2026-09-01T00:00:00Z"),
                            course_event("course.unsubscribed", "u1", "2026-10-01T00:00:00Z"),
                            course_event("course.subscribed", "s2", "2026-10-15T00:00:00Z", plan="yearly")]})

    sub = CommerceStore().course_subscription(jane.id, COURSE)
    assert (sub.plan, sub.subscribed_at, sub.ended_at) == ("yearly", when("2026-10-15T00:00:00Z"), None)
    assert CommerceStore().has_active_course_subscription(jane.id, COURSE)
    assert len(ContactStore().events(jane.id, "course.subscribed")) == 2


def test_given_events_delivered_late_then_an_old_one_does_not_undo_a_newer_state(jane, sender):
    sender.post(course_event("course.subscribed", "s2", "2026-10-15T00:00:00Z"))
    late_unsubscribe = sender.post(course_event("course.unsubscribed", "u1", "2026-10-01T00:00:00Z"))
    sender.post(course_event("course.unsubscribed", "u2", "2026-10-20T00:00:00Z"))
    late_subscribe = sender.post(course_event("course.subscribed", "s1", "2026-09-01T00:00:00Z"))

    assert late_unsubscribe["json"]["results"][0]["reason"].startswith("the subscription had already ended")
    assert late_subscribe["json"]["results"][0]["reason"] == "the contact already has this subscription"
    sub = CommerceStore().course_subscription(jane.id, COURSE)
    assert sub.ended_at == when("2026-10-20T00:00:00Z")
    assert [e.at for e in ContactStore().events(jane.id, "course.unsubscribed")] == [when("2026-10-20T00:00:00Z")]


def test_given_no_stored_subscription_when_unsubscribed_then_the_event_is_still_on_the_history(jane, sender):
    result = sender.post(course_event("course.unsubscribed", "u1", "2026-10-01T00:00:00Z"))["json"]["results"][0]

    assert result["status"] == "accepted" and "no subscription" in result["reason"]
    assert CommerceStore().course_subscription(jane.id, COURSE) is None
    (entry,) = ContactStore().events(jane.id, "course.unsubscribed")
    assert entry.detail == {"course": COURSE}


def test_given_a_subscription_made_by_a_map_step_then_the_platforms_unsubscribe_ends_it_and_the_step_can_renew_it(
        jane, sender, clock, lambda_context):
    store = ContactStore()
    store.create_enrollment(jane.id, "welcome-leads", "e_5f1c0a9b8e7d6c5b4a392817", {"type": "form_submitted"})
    subscribe_step.lambda_handler(event_for("add_course_subscription", jane), lambda_context)
    clock.advance(days=3)
    sender.post(course_event("course.unsubscribed", "u1", "2026-11-05T08:00:00Z"))
    assert not CommerceStore().has_active_course_subscription(jane.id, COURSE)

    clock.advance(days=1)
    renewed = subscribe_step.lambda_handler(event_for("add_course_subscription", jane, state_name="renew",
                                                      settings={"course": COURSE, "plan": "monthly"}), lambda_context)

    assert (renewed["outcome"], renewed["reason"]) == ("done", None)
    assert CommerceStore().has_active_course_subscription(jane.id, COURSE)
    assert [e.kind for e in store.history(jane.id, kinds=["course.subscribed", "course.unsubscribed"])] == [
        "course.subscribed", "course.unsubscribed", "course.subscribed"]
