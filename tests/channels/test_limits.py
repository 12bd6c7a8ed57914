"""Sending limits (automaps.channels.limits): quiet hours in the contact's timezone defer a send to
their end; frequency caps across maps defer or skip it; a visit that already sent is a replay, never
judged again. The real send_email / send_sms handlers on moto, the clock at 2026-11-02 08:00 UTC."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from automaps.channels.limits import QuietHours, quiet_until
from automaps.maps.compiler import compile_map
from automaps.maps.model import Map
from automaps.store.contacts import ContactStore
from functions.send_email import app as email_app
from functions.send_sms import app as sms_app
from tests.actions.sending import a_contact, history, shipped_template, task_event
from tests.conftest import FakeLambdaContext
from tests.faults.sends_givens import hooked, throttled
from tests.outbox import sent_emails, sent_sms

NIGHT = {"quiet_hours": {"from": "21:00", "to": "08:00", "timezone": "contact"}}
THREE_A_WEEK = {"caps": [{"channel": "email", "max": 3, "per": {"days": 7}, "kinds": "marketing"}]}
NOW = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def ready(aws, clock):
    """GIVEN the stack is up, the welcome template stored and the clock stands still."""
    shipped_template("welcome")
    return clock


def email(contact, sending, **changes) -> dict:
    return task_event("send_email.json", contact, sending=sending, **changes)


def sent_before(contact, kind: str, *ages: timedelta, marketing: bool = True, map_id: str = "other-map") -> None:
    """GIVEN ``kind`` entries on the contact's history, ``ages`` ago, from another map."""
    for age in ages:
        ContactStore().record(contact.id, kind, {"marketing": marketing}, map_id=map_id, step_id="s", at=NOW - age)


# ------------------------------------------------------------------ quiet hours


def test_given_3am_in_the_contacts_timezone_when_the_email_is_due_then_it_is_deferred_to_8am_and_nothing_is_sent(
        ready, lambda_context):
    # GIVEN Jane lives in New York, where it is 03:00 (EST)
    jane = a_contact(first_name="Jane", timezone="America/New_York")

    # WHEN the email step runs inside the map's quiet hours
    result = email_app.lambda_handler(email(jane, NIGHT), lambda_context)

    # THEN it answers deferred until 08:00 New York, records step.deferred with why, and sends nothing
    assert result["outcome"] == "deferred"
    assert result["detail"]["deferred_until"] == "2026-11-02T13:00:00Z"
    assert sent_emails() == [] and history(jane, "email.sent") == []
    [deferred] = history(jane, "step.deferred")
    assert "quiet hours (21:00-08:00 in the contact's timezone America/New_York)" in deferred.detail["reason"]
    assert deferred.detail["deferred_until"] == "2026-11-02T13:00:00Z"
    assert history(jane, "step.done") == []


def test_given_a_deferred_email_when_its_step_is_visited_again_at_the_end_of_quiet_hours_then_it_is_sent_once(
        ready, lambda_context):
    jane = a_contact(first_name="Jane", timezone="America/New_York")
    email_app.lambda_handler(email(jane, NIGHT), lambda_context)

    # WHEN the state machine's Wait ends and the same step is entered again (a new visit)
    ready.advance(hours=5)
    again = email_app.lambda_handler(email(jane, NIGHT, state_entered_time="2026-11-02T13:00:00.000Z"), lambda_context)

    # THEN the email goes out, once
    assert again["outcome"] == "done"
    assert len(sent_emails()) == 1 and len(history(jane, "email.sent")) == 1
    assert len(history(jane, "step.deferred")) == 1


def test_given_a_contact_without_a_timezone_when_quiet_hours_apply_then_the_maps_timezone_is_used(
        ready, lambda_context):
    # GIVEN no timezone on the contact; the map's is Los Angeles (midnight there) / Paris (09:00 there)
    jane = a_contact(first_name="Jane")

    night = email_app.lambda_handler(email(jane, NIGHT, fallback_timezone="America/Los_Angeles"), lambda_context)
    day = email_app.lambda_handler(email(jane, NIGHT, fallback_timezone="Europe/Paris",
                                         state_entered_time="2026-11-02T08:00:01.000Z"), lambda_context)

    assert (night["outcome"], night["detail"]["deferred_until"]) == ("deferred", "2026-11-02T16:00:00Z")
    assert "the map's timezone America/Los_Angeles" in night["reason"]
    assert day["outcome"] == "done" and len(sent_emails()) == 1


def test_given_quiet_hours_across_the_end_of_daylight_saving_time_then_they_end_at_8am_local_time():
    quiet = QuietHours.model_validate({"from": "21:00", "to": "08:00"})
    new_york = ZoneInfo("America/New_York")

    # 23:30 EDT on 31 October; the clocks go back at 02:00 on 1 November: 08:00 EST is 13:00 UTC
    assert quiet_until(quiet, datetime(2026, 11, 1, 3, 30, tzinfo=UTC), new_york) == datetime(
        2026, 11, 1, 13, 0, tzinfo=UTC)
    # 23:30 EST on 7 March; the clocks go forward at 02:00 on 8 March: 08:00 EDT is 12:00 UTC
    assert quiet_until(quiet, datetime(2026, 3, 8, 4, 30, tzinfo=UTC), new_york) == datetime(
        2026, 3, 8, 12, 0, tzinfo=UTC)
    # 08:00 exactly and 20:59 are outside; a daytime window does not cross midnight
    assert quiet_until(quiet, datetime(2026, 11, 2, 13, 0, tzinfo=UTC), new_york) is None
    assert quiet_until(quiet, datetime(2026, 11, 3, 1, 59, tzinfo=UTC), new_york) is None
    lunch = QuietHours.model_validate({"from": "12:00", "to": "14:00", "timezone": "UTC"})
    assert quiet_until(lunch, datetime(2026, 11, 2, 13, 0, tzinfo=UTC), ZoneInfo("UTC")) == datetime(
        2026, 11, 2, 14, 0, tzinfo=UTC)


# ------------------------------------------------------------------ frequency caps


def test_given_three_marketing_emails_this_week_from_other_maps_when_a_fourth_is_due_then_it_waits_for_the_oldest(
        ready, lambda_context):
    # GIVEN 3 marketing emails in the last 7 days (6, 3 and 1 days ago) from another map, one 8 days ago
    jane = a_contact(first_name="Jane")
    sent_before(jane, "email.sent", timedelta(days=8), timedelta(days=6), timedelta(days=3), timedelta(days=1))

    result = email_app.lambda_handler(email(jane, THREE_A_WEEK), lambda_context)

    # THEN deferred until the one of 6 days ago leaves the window (in 1 day), nothing sent
    assert result["outcome"] == "deferred"
    assert result["detail"]["deferred_until"] == "2026-11-03T08:00:01Z"
    assert "frequency cap reached (at most 3 marketing emails in 1 week)" in result["reason"]
    assert sent_emails() == [] and len(history(jane, "step.deferred")) == 1


def test_given_the_cap_is_reached_and_over_cap_is_skip_when_the_email_is_due_then_it_is_skipped_with_the_reason(
        ready, lambda_context):
    jane = a_contact(first_name="Jane")
    sent_before(jane, "email.sent", timedelta(days=6), timedelta(days=3), timedelta(days=1))

    result = email_app.lambda_handler(email(jane, {**THREE_A_WEEK, "over_cap": "skip"}), lambda_context)

    assert (result["outcome"], result["reason"]) == ("skipped", "frequency cap reached (at most 3 marketing emails "
                                                                "in 1 week)")
    [skipped] = history(jane, "step.skipped")
    assert skipped.detail["reason"] == result["reason"] and skipped.detail["template"] == "welcome"
    assert sent_emails() == [] and history(jane, "step.deferred") == []


def test_given_a_marketing_cap_when_transactional_emails_were_sent_or_are_due_then_they_neither_count_nor_wait(
        ready, lambda_context):
    # GIVEN 2 marketing and 5 transactional emails this week
    jane = a_contact(first_name="Jane")
    sent_before(jane, "email.sent", timedelta(days=2), timedelta(days=1))
    sent_before(jane, "email.sent", *[timedelta(hours=h) for h in range(1, 6)], marketing=False)

    # WHEN a third marketing email is due, then a transactional one with the cap reached
    third = email_app.lambda_handler(email(jane, THREE_A_WEEK), lambda_context)
    receipt = email_app.lambda_handler(email(jane, THREE_A_WEEK, state_entered_time="2026-11-02T08:00:01.000Z",
                                             settings={"template": "welcome", "marketing": False}), lambda_context)
    fourth = email_app.lambda_handler(email(jane, THREE_A_WEEK, state_entered_time="2026-11-02T08:00:02.000Z"),
                                      lambda_context)

    assert (third["outcome"], receipt["outcome"], fourth["outcome"]) == ("done", "done", "deferred")
    assert len(sent_emails()) == 2


def test_given_an_sms_cap_when_texts_were_sent_by_other_maps_then_the_next_marketing_text_is_deferred(
        ready, lambda_context):
    jane = a_contact(first_name="Jane", phone="+14155550123")
    sent_before(jane, "sms.sent", timedelta(hours=20))
    cap = {"caps": [{"channel": "sms", "max": 1, "per": {"days": 1}}, *THREE_A_WEEK["caps"]]}

    promo = sms_app.lambda_handler(task_event("send_sms.json", jane, sending=cap), lambda_context)
    code = sms_app.lambda_handler(task_event("send_sms.json", jane, sending=cap,
                                             state_entered_time="2026-11-04T09:00:01.000Z",
                                             settings={"text": "Your code is 1234", "marketing": False}),
                                  lambda_context)

    assert (promo["outcome"], promo["detail"]["deferred_until"]) == ("deferred", "2026-11-02T12:00:01Z")
    assert code["outcome"] == "done" and [s.text for s in sent_sms()] == ["Your code is 1234"]
    [entry] = history(jane, "sms.sent")[1:]
    assert entry.detail["marketing"] is False


# ------------------------------------------------------------------ exactly once


class ShortLivedContext(FakeLambdaContext):
    def get_remaining_time_in_millis(self) -> int:
        return 50


def test_given_a_send_that_filled_the_cap_when_its_visit_is_retried_then_it_is_a_replay_not_a_deferral(
        ready, lambda_context):
    # GIVEN a cap of 1 marketing email a week, none sent yet; the visit sends, then Powertools cannot
    # save its result (throttled): the state's Retry runs the same visit again
    from automaps import config

    jane = a_contact(first_name="Jane")
    one = {"caps": [{"channel": "email", "max": 1, "per": {"days": 7}}]}
    event = email(jane, one)

    def save_success_throttled(params, **_):
        if params.get("TableName") == config.idempotency_table() and "COMPLETED" in json.dumps(
                params.get("ExpressionAttributeValues", {})):
            throttled("UpdateItem")()

    with hooked("dynamodb", "before-parameter-build.dynamodb.UpdateItem", save_success_throttled), \
            pytest.raises(Exception) as raised:
        email_app.lambda_handler(event, ShortLivedContext())
    assert type(raised.value).__name__ == "TransientError"
    time.sleep(0.1)  # the in-progress record expired with the Lambda
    retried = email_app.lambda_handler(event, lambda_context)

    # THEN the retry replays the send (done, the same message), not judged by the cap it filled
    assert retried["outcome"] == "done"
    assert len(sent_emails()) == 1 and len(history(jane, "email.sent")) == 1
    assert history(jane, "step.deferred") == [] and len(history(jane, "step.done")) == 1


def test_given_a_deferred_visit_when_it_is_retried_then_it_answers_the_same_and_records_once(ready, lambda_context):
    jane = a_contact(first_name="Jane", timezone="America/New_York")
    event = email(jane, NIGHT)

    first = email_app.lambda_handler(event, lambda_context)
    again = email_app.lambda_handler(event, lambda_context)

    assert first == again and first["outcome"] == "deferred"
    assert len(history(jane, "step.deferred")) == 1 and sent_emails() == []


# ------------------------------------------------------------------ the map


def a_map(**top) -> dict:
    return {"id": "newsletter", "name": "Newsletter", "triggers": [{"form_submitted": {"form": "newsletter"}}],
            "steps": [{"id": "hello", "send_email": {"template": "welcome"}},
                      {"id": "text", "send_sms": {"text": "Hi", "marketing": False}},
                      {"id": "tag", "change_tags": {"add": ["greeted"]}}], **top}


def test_given_quiet_hours_in_the_contacts_timezone_and_no_map_timezone_when_the_map_loads_then_it_is_refused():
    with pytest.raises(ValidationError) as refused:
        Map.model_validate(a_map(sending=NIGHT))

    assert "sending.quiet_hours are read in the contact's timezone" in str(refused.value)
    assert "timezone: America/New_York" in str(refused.value)
    Map.model_validate(a_map(sending=NIGHT, timezone="America/Chicago"))
    Map.model_validate(a_map(sending={"quiet_hours": {"from": "21:00", "to": "08:00", "timezone": "Europe/Paris"}}))


def test_given_bad_sending_settings_when_the_map_loads_then_the_error_names_them():
    for sending, words in (({}, "sending needs quiet_hours"),
                           ({"quiet_hours": {"from": "21:00", "to": "21:00"}}, "are empty"),
                           ({"caps": [{"channel": "fax", "max": 1, "per": {"days": 1}}]}, "caps.0.channel"),
                           ({"caps": [{"channel": "email", "max": 0, "per": {"days": 1}}]}, "caps.0.max")):
        with pytest.raises(ValidationError) as refused:
            Map.model_validate(a_map(sending=sending, timezone="UTC"))
        assert words in str(refused.value), (sending, str(refused.value))


def test_given_a_map_with_sending_limits_when_compiled_then_its_sends_carry_them_and_come_back_when_deferred():
    asl = compile_map(Map.model_validate(a_map(sending={**NIGHT, **THREE_A_WEEK}, timezone="America/Chicago")))
    states = asl["States"]

    hello = states["hello"]
    assert hello["Parameters"]["Payload"]["sending"]["quiet_hours"] == {"from": "21:00", "to": "08:00",
                                                                        "timezone": "contact"}
    assert hello["Parameters"]["Payload"]["fallback_timezone"] == "America/Chicago"
    assert hello["Parameters"]["Payload"]["deferral"] == "catch"
    # the normal path goes straight on; a held-back send is caught, waits, and visits the Task again
    assert hello["Next"] == "text"
    [deferred] = [c for c in hello["Catch"] if c["ErrorEquals"] == ["Deferred"]]
    assert deferred == {"ErrorEquals": ["Deferred"], "ResultPath": "$.deferral", "Next": "hello deferred"}
    assert hello["Catch"].index(deferred) == 1, "after Superseded, before States.ALL"
    assert states["hello deferred"]["Parameters"] == {"cause.$": "States.StringToJson($.deferral.Cause)"}
    assert states["hello deferred"]["Next"] == "hello deferred until"
    assert states["hello deferred until"] == {**states["hello deferred until"], "Type": "Wait",
                                              "TimestampPath": "$.deferral.cause.errorMessage", "Next": "hello"}
    assert "sending" in states["text"]["Parameters"]["Payload"]
    assert "sending" not in states["tag"]["Parameters"]["Payload"]
    # a map without limits: its sends carry no limits, but the channel's send rate can still defer them
    plain = compile_map(Map.model_validate(a_map()))["States"]
    assert plain["hello"]["Parameters"]["Payload"]["sending"] == {} and plain["hello"]["Next"] == "text"
    assert "hello deferred until" in plain
