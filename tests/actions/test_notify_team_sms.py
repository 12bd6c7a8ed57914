"""notify_team_sms: staff and partners get a text about the contact, one per number, sent once
per visit of the step even when a retry follows a partial send."""

from __future__ import annotations

import pytest
from botocore.stub import ANY, Stubber
from pydantic import ValidationError

from automaps import aws as aws_clients
from automaps.actions.notify_team_sms import Settings
from automaps.store.contacts import ContactStore
from automaps.journeys.steps import TransientError
from functions.notify_team_sms import app
from tests.actions.sending import a_contact, history, task_event
from tests.outbox import sent_sms

FIXTURE = "notify_team_sms.json"


@pytest.fixture
def ready(aws, clock):
    """GIVEN the stack is up and the clock stands still."""


def notify(event: dict, lambda_context) -> dict:
    return app.lambda_handler(event, lambda_context)


def sns_publish_ok(message_id: str = "stubbed-0001") -> tuple[str, dict, dict]:
    return "publish", {"MessageId": message_id}, {"PhoneNumber": ANY, "Message": ANY, "MessageAttributes": ANY}


def test_given_a_new_lead_when_the_team_is_texted_then_each_number_gets_the_rendered_text(ready, lambda_context):
    jane = a_contact(first_name="Jane", age=52)

    result = notify(task_event(FIXTURE, jane), lambda_context)

    assert result["outcome"] == "done"
    assert sorted((s.phone_number, s.text) for s in sent_sms()) == [
        ("+14155550100", "New lead Jane, age 52"), ("+442079460958", "New lead Jane, age 52")]


def test_given_the_contact_texted_stop_then_the_team_is_still_notified(ready, lambda_context):
    jane = a_contact(first_name="Jane", age=52)
    ContactStore().set_unsubscribed(jane.id, "sms")

    notify(task_event(FIXTURE, jane), lambda_context)

    assert len(sent_sms()) == 2


def test_given_a_notification_when_the_history_is_read_then_the_numbers_are_masked(ready, lambda_context, capsys):
    jane = a_contact(first_name="Jane", age=52)

    notify(task_event(FIXTURE, jane), lambda_context)

    entries = history(jane, "team.notified")
    assert sorted(e.detail["to"] for e in entries) == ["+1******0100", "+4*******0958"]
    assert {e.detail["message_id"] for e in entries} == {s.id for s in sent_sms()}
    assert [e.detail.get("name") for e in entries if e.detail["to"].startswith("+4")] == ["London desk"]
    assert "4155550100" not in capsys.readouterr().out


def test_given_a_missing_merge_field_then_the_step_is_skipped_and_nothing_is_sent(ready, lambda_context):
    jane = a_contact(first_name="Jane")  # no age

    result = notify(task_event(FIXTURE, jane), lambda_context)

    assert (result["outcome"], result["reason"]) == ("skipped", "missing field: contact.age")
    assert sent_sms() == []


def test_given_the_same_task_event_twice_when_run_then_each_number_gets_one_text(ready, lambda_context):
    jane = a_contact(first_name="Jane", age=52)
    event = task_event(FIXTURE, jane)

    first, second = notify(event, lambda_context), notify(event, lambda_context)

    assert first == second and len(sent_sms()) == 2


def test_given_sns_throttles_the_second_number_when_retried_then_only_that_one_is_sent_again(ready, lambda_context):
    jane = a_contact(first_name="Jane", age=52)
    event = task_event(FIXTURE, jane)

    with Stubber(aws_clients.client("sns")) as sns:
        sns.add_response(*sns_publish_ok())
        sns.add_client_error("publish", service_error_code="Throttling", http_status_code=400)
        with pytest.raises(TransientError):
            notify(event, lambda_context)

    assert notify(event, lambda_context)["outcome"] == "done"
    assert [s.phone_number for s in sent_sms()] == ["+442079460958"]
    assert len(history(jane, "team.notified")) == 2


def test_given_sns_refuses_every_number_then_the_step_fails_without_retry(ready, lambda_context):
    jane = a_contact(first_name="Jane", age=52)

    with Stubber(aws_clients.client("sns")) as sns:
        sns.add_client_error("publish", service_error_code="InvalidParameter", http_status_code=400)
        sns.add_client_error("publish", service_error_code="OptedOut", http_status_code=400)
        result = notify(task_event(FIXTURE, jane), lambda_context)

    assert result["outcome"] == "failed" and "SNS refused" in result["reason"]
    assert history(jane, "team.notified") == []


def test_given_sns_fails_with_a_5xx_then_the_step_raises_transient(ready, lambda_context):
    jane = a_contact(first_name="Jane", age=52)

    with Stubber(aws_clients.client("sns")) as sns:
        sns.add_client_error("publish", service_error_code="InternalError", http_status_code=500)
        with pytest.raises(TransientError):
            notify(task_event(FIXTURE, jane), lambda_context)


@pytest.mark.parametrize(("settings", "message"), [
    ({"to": [], "text": "t"}, "at least 1 item"),
    ({"to": ["(415) 555-0100"], "text": "t"}, "international format"),
    ({"to": ["+14155550100", "+1 415 555 0100"], "text": "t"}, "appears twice"),
    ({"to": ["+14155550100"], "text": ""}, "at least 1 character"),
    ({"to": ["+14155550100"], "text": "t", "body": "x"}, "Extra inputs"),
])
def test_given_bad_settings_when_validated_then_they_are_refused_saying_what_to_change(settings, message):
    with pytest.raises(ValidationError, match=message):
        Settings.model_validate(settings)


def test_given_a_number_written_with_spaces_then_it_is_kept_in_e164():
    assert [r.address for r in Settings.model_validate({"to": "+1 415 555 0100", "text": "t"}).to] == ["+14155550100"]
