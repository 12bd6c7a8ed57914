"""The resolve_wait task: the contact's data in, the end of the wait (UTC, Z) out."""

from __future__ import annotations

import pytest

from automaps.contacts import ContactStore
from automaps.maps.resolve import WaitFieldError
from functions.resolve_wait import app


def event(contact_id: str, wait: dict, fallback: str = "UTC") -> dict:
    return {"contact_id": contact_id, "enrollment_id": "e_1", "map_id": "webinar-reminder", "step_id": "hour-before",
            "wait": wait, "fallback_timezone": fallback}


def test_given_a_contact_in_paris_when_waiting_for_ten_oclock_then_the_answer_is_ten_paris_time(aws, clock,
                                                                                                lambda_context):
    jane, _ = ContactStore().upsert_by_email("jane@example.com", {"timezone": "Europe/Paris"})

    result = app.lambda_handler(event(jane.id, {"at": "10:00"}), lambda_context)

    assert result == {"at": "2026-11-02T09:00:00Z"}


def test_given_a_webinar_date_when_waiting_until_an_hour_before_then_the_answer_is_that_time(aws, clock,
                                                                                             lambda_context):
    jane, _ = ContactStore().upsert_by_email("jane@example.com", {"webinar_at": "2026-11-10T18:00:00Z"})
    wait = {"until_field": "webinar_at", "offset": {"hours": -1}}

    assert app.lambda_handler(event(jane.id, wait), lambda_context) == {"at": "2026-11-10T17:00:00Z"}


def test_given_an_unknown_contact_when_waiting_for_a_time_of_day_then_the_maps_timezone_is_used(aws, clock,
                                                                                                lambda_context):
    result = app.lambda_handler(event("c_gone", {"at": "10:00"}, fallback="America/New_York"), lambda_context)

    assert result == {"at": "2026-11-02T15:00:00Z"}


def test_given_no_date_in_the_field_when_resolving_then_the_task_fails_for_the_catch_to_record(aws, clock,
                                                                                               lambda_context):
    jane, _ = ContactStore().upsert_by_email("jane@example.com", {})

    with pytest.raises(WaitFieldError, match="field 'webinar_at' is missing"):
        app.lambda_handler(event(jane.id, {"until_field": "webinar_at"}), lambda_context)
