"""The resolve_wait task: the contact's data in, the moment (UTC, Z) and whether to skip out; a
skipped or undatable moment recorded on the contact's history with its reason."""

from __future__ import annotations

from automaps.store.contacts import ContactStore
from functions.resolve_wait import app


def event(contact_id: str, wait: dict | None = None, *, when: dict | None = None, fallback: str | None = "UTC") -> dict:
    body = {"contact_id": contact_id, "enrollment_id": "e_1", "map_id": "webinar-reminder", "step_id": "hour-before"}
    body |= {"when": when} if when is not None else {"wait": wait}
    return body | ({"fallback_timezone": fallback} if fallback else {})


def skipped(contact_id: str) -> list[tuple[str | None, str, str]]:
    return [(entry.step_id, entry.detail["reason"], entry.detail["then"])
            for entry in ContactStore().history(contact_id, kinds=["step.skipped"])]


def test_given_a_contact_in_paris_when_waiting_for_ten_oclock_then_the_answer_is_ten_paris_time(aws, clock,
                                                                                                lambda_context):
    jane, _ = ContactStore().upsert_by_email("jane@example.com", {"timezone": "Europe/Paris"})

    result = app.lambda_handler(event(jane.id, {"at": "10:00"}), lambda_context)

    assert result == {"at": "2026-11-02T09:00:00Z", "skip": False}


def test_given_a_webinar_date_when_waiting_until_an_hour_before_then_the_answer_is_that_time(aws, clock,
                                                                                             lambda_context):
    jane, _ = ContactStore().upsert_by_email("jane@example.com", {"webinar_at": "2026-11-10T18:00:00Z"})
    wait = {"until_field": "webinar_at", "offset": {"hours": -1}}

    assert app.lambda_handler(event(jane.id, wait), lambda_context) == {"at": "2026-11-10T17:00:00Z", "skip": False}
    assert skipped(jane.id) == []


def test_given_an_unknown_contact_when_waiting_for_a_time_of_day_then_the_maps_timezone_is_used(aws, clock,
                                                                                                lambda_context):
    result = app.lambda_handler(event("c_gone", {"at": "10:00"}, fallback="America/New_York"), lambda_context)

    assert result == {"at": "2026-11-02T15:00:00Z", "skip": False}


def test_given_no_date_in_the_field_when_waiting_then_the_contact_goes_on_at_once_and_the_history_says_why(
        aws, clock, lambda_context):
    jane, _ = ContactStore().upsert_by_email("jane@example.com", {})

    result = app.lambda_handler(event(jane.id, {"until_field": "webinar_at"}), lambda_context)

    assert result == {"at": "2026-11-02T08:00:00Z", "skip": False}
    assert skipped(jane.id) == [("hour-before", "field 'webinar_at' is missing", "went on without waiting")]


def test_given_a_past_date_and_skip_when_waiting_then_the_contact_leaves_and_the_history_says_why(aws, clock,
                                                                                                  lambda_context):
    jane, _ = ContactStore().upsert_by_email("jane@example.com", {"webinar_at": "2026-11-02T08:30:00Z"})
    wait = {"until_field": "webinar_at", "offset": {"hours": -1}, "if_past": "skip"}

    result = app.lambda_handler(event(jane.id, wait), lambda_context)

    assert result == {"at": "2026-11-02T08:00:00Z", "skip": True}
    assert skipped(jane.id) == [("hour-before", "webinar_at minus 1 hour (2026-11-02T07:30Z) was already past",
                                 "left the map")]


def test_given_a_past_date_and_the_default_rule_when_an_action_is_timed_on_it_then_it_runs_now_unrecorded(
        aws, clock, lambda_context):
    jane, _ = ContactStore().upsert_by_email("jane@example.com", {"webinar_at": "2026-11-02T08:30:00Z"})
    when = {"until_field": "webinar_at", "offset": {"hours": -1}}

    assert app.lambda_handler(event(jane.id, when=when), lambda_context) == {"at": "2026-11-02T08:00:00Z", "skip": False}
    assert skipped(jane.id) == []


def test_given_no_date_when_an_action_is_timed_on_it_then_the_action_is_skipped_with_the_reason(aws, clock,
                                                                                               lambda_context):
    jane, _ = ContactStore().upsert_by_email("jane@example.com", {"webinar_at": "next week"})
    when = {"until_field": "webinar_at", "offset": {"hours": -1}}

    assert app.lambda_handler(event(jane.id, when=when), lambda_context)["skip"] is True
    assert skipped(jane.id) == [("hour-before", "field 'webinar_at' is not a date ('next week')",
                                 "the action did not run")]


def test_given_a_naive_date_and_no_timezone_anywhere_then_the_action_is_skipped_not_read_as_utc(aws, clock,
                                                                                                 lambda_context):
    jane, _ = ContactStore().upsert_by_email("jane@example.com", {"webinar_at": "2026-11-10T18:00"})

    result = app.lambda_handler(event(jane.id, when={"until_field": "webinar_at"}, fallback=None), lambda_context)

    assert result["skip"] is True
    [(_, reason, _)] = skipped(jane.id)
    assert reason == "field 'webinar_at' (2026-11-10T18:00) has no timezone, and neither has the contact nor the map"
