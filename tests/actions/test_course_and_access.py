"""add_course_subscription (Sales Jet "Add TJ Subscription") and update_membership_access
(Ontraport "Update Membership Access"): stored on the contact, each change recorded once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from automaps.store.commerce import CommerceStore
from automaps.journeys.steps import TransientError
from functions.add_course_subscription import app as subscribe
from functions.update_membership_access import app as access
from tests.actions.commerce_givens import dynamodb_answers
from tests.actions.conftest import event_for, kinds, retried_alike


# ------------------------------------------------------------------ add_course_subscription


def test_given_a_contact_when_subscribed_to_a_course_then_the_subscription_is_stored_and_recorded(
        store, contact, lambda_context):
    result = subscribe.lambda_handler(event_for("add_course_subscription", contact), lambda_context)

    (sub,) = CommerceStore().course_subscriptions(contact.id)
    assert (sub.course_id, sub.plan, sub.starts_at) == ("copywriting-basics", "monthly",
                                                        datetime(2026, 11, 3, 8, 0, tzinfo=UTC))
    assert result["detail"] == {"course": "copywriting-basics", "plan": "monthly", "starts_at": "2026-11-03T08:00:00Z"}
    (subscribed,) = store.history(contact.id, kinds=["course.subscribed"])
    assert subscribed.detail == result["detail"] and subscribed.step_id == "enrol-course"


def test_given_a_subscription_when_the_plan_changes_then_it_is_updated_keeping_when_it_began(
        store, contact, lambda_context, clock):
    subscribe.lambda_handler(event_for("add_course_subscription", contact), lambda_context)
    clock.advance(days=30)

    subscribe.lambda_handler(event_for("add_course_subscription", contact, state_name="upgrade", settings={
        "course": "copywriting-basics", "plan": "yearly", "start": {"at": "2026-12-02T00:00:00Z"}}), lambda_context)

    (sub,) = CommerceStore().course_subscriptions(contact.id)
    assert (sub.plan, sub.subscribed_at.isoformat()) == ("yearly", "2026-11-02T08:00:00+00:00")
    last = store.history(contact.id, kinds=["course.subscribed"])[-1]
    assert last.detail["previous"] == {"plan": "monthly", "starts_at": "2026-11-03T08:00:00Z"}


def test_given_a_subscription_when_the_visit_is_retried_or_repeated_then_it_is_recorded_once(store, contact,
                                                                                             lambda_context):
    event = event_for("add_course_subscription", contact)
    first = subscribe.lambda_handler(event, lambda_context)

    assert retried_alike(subscribe.lambda_handler(event, lambda_context), first)
    repeated = subscribe.lambda_handler({**event, "state_name": "again"}, lambda_context)
    assert repeated["reason"] == "the contact already has this subscription"
    assert kinds(store, contact).count("course.subscribed") == 1


def test_given_no_start_then_the_subscription_starts_when_the_state_was_entered(store, contact, lambda_context):
    subscribe.lambda_handler(event_for("add_course_subscription", contact, settings={"course": "seo-101"}),
                             lambda_context)

    (sub,) = CommerceStore().course_subscriptions(contact.id)
    assert (sub.plan, sub.starts_at) == ("standard", datetime(2026, 11, 2, 8, 0, tzinfo=UTC))


def test_given_dynamodb_throttles_when_subscribing_then_the_retry_subscribes_once(store, contact, lambda_context):
    event = event_for("add_course_subscription", contact)
    with dynamodb_answers("ThrottlingException", 400), pytest.raises(TransientError):
        subscribe.lambda_handler(event, lambda_context)

    assert subscribe.lambda_handler(event, lambda_context)["outcome"] == "done"
    assert kinds(store, contact).count("course.subscribed") == 1


@pytest.mark.parametrize(("settings", "says"), [
    ({"plan": "monthly"}, "course"),
    ({"course": "c", "plan": "Monthly Plan"}, "lowercase letters"),
    ({"course": "c", "start": {"in": {"days": 1}, "at": "2027-01-01T00:00:00Z"}}, "start is either"),
])
def test_given_bad_course_settings_then_the_step_fails_saying_what_to_change(store, contact, lambda_context,
                                                                             settings, says):
    result = subscribe.lambda_handler(event_for("add_course_subscription", contact, settings=settings),
                                      lambda_context)

    assert result["outcome"] == "failed" and says in result["reason"], result["reason"]


# ------------------------------------------------------------------ update_membership_access


def test_given_no_access_when_it_is_enabled_then_the_change_is_recorded_from_none(store, contact, lambda_context):
    result = access.lambda_handler(event_for("update_membership_access", contact), lambda_context)

    assert result["detail"] == {"site": "members-area", "old": None, "new": "enabled"}
    assert CommerceStore().access(contact.id)["members-area"].status == "enabled"
    (changed,) = store.history(contact.id, kinds=["membership.access_changed"])
    assert changed.detail == {"site": "members-area", "old": None, "new": "enabled"}


def test_given_enabled_access_when_suspended_then_disabled_then_each_change_records_old_and_new(
        store, contact, lambda_context):
    for i, status in enumerate(["enabled", "suspended", "disabled"]):
        access.lambda_handler(event_for("update_membership_access", contact, state_name=f"s{i}",
                                        settings={"site": "members-area", "status": status}), lambda_context)

    changes = [(h.detail["old"], h.detail["new"]) for h in store.history(contact.id,
                                                                         kinds=["membership.access_changed"])]
    assert changes == [(None, "enabled"), ("enabled", "suspended"), ("suspended", "disabled")]
    assert CommerceStore().access(contact.id)["members-area"].status == "disabled"


def test_given_access_already_in_that_status_then_nothing_is_recorded(store, contact, lambda_context):
    event = event_for("update_membership_access", contact)
    first = access.lambda_handler(event, lambda_context)

    assert retried_alike(access.lambda_handler(event, lambda_context), first)  # the retry of one visit
    again = access.lambda_handler({**event, "state_name": "later"}, lambda_context)
    assert again["reason"] == "access is already enabled"
    assert kinds(store, contact).count("membership.access_changed") == 1


def test_given_sites_then_each_has_its_own_access(store, contact, lambda_context):
    access.lambda_handler(event_for("update_membership_access", contact), lambda_context)
    access.lambda_handler(event_for("update_membership_access", contact, state_name="vip",
                                    settings={"site": "vip-lounge", "status": "suspended"}), lambda_context)

    assert {site: a.status for site, a in CommerceStore().access(contact.id).items()} == {
        "members-area": "enabled", "vip-lounge": "suspended"}


def test_given_dynamodb_fails_when_access_changes_then_the_retry_changes_it_once(store, contact, lambda_context):
    event = event_for("update_membership_access", contact)
    with dynamodb_answers("InternalServerError", 500), pytest.raises(TransientError):
        access.lambda_handler(event, lambda_context)

    assert access.lambda_handler(event, lambda_context)["outcome"] == "done"
    assert kinds(store, contact).count("membership.access_changed") == 1


def test_given_an_only_if_not_met_then_access_is_not_touched(store, contact, lambda_context):
    result = access.lambda_handler(event_for("update_membership_access", contact,
                                             only_if={"has_tag": "paid"}), lambda_context)

    assert result["outcome"] == "skipped" and CommerceStore().access(contact.id) == {}


@pytest.mark.parametrize(("settings", "says"), [
    ({"site": "members-area", "status": "paused"}, "'enabled', 'suspended' or 'disabled'"),
    ({"status": "enabled"}, "site"),
    ({"site": "members area", "status": "enabled"}, "must be 1 to 100 letters"),
])
def test_given_bad_access_settings_then_the_step_fails_saying_what_to_change(store, contact, lambda_context,
                                                                             settings, says):
    result = access.lambda_handler(event_for("update_membership_access", contact, settings=settings),
                                   lambda_context)

    assert result["outcome"] == "failed" and says in result["reason"], result["reason"]
