"""send_sms: a text rendered for the contact, sent once through SNS to an E.164 number; every
reason not to send is recorded."""

from __future__ import annotations

import pytest

from automaps.contacts import ContactStore
from functions.send_sms import app
from tests.actions.sending import a_contact, enrolled, history, task_event
from tests.outbox import sent_sms


@pytest.fixture
def ready(aws, clock):
    """GIVEN the stack is up and the clock stands still."""


def send(event: dict, lambda_context) -> dict:
    return app.lambda_handler(event, lambda_context)


def test_given_a_contact_with_a_phone_when_the_sms_runs_then_the_rendered_text_goes_to_the_e164_number(
        ready, lambda_context):
    jane = a_contact(first_name="Jane", phone="(415) 555-0123", country="us")

    result = send(task_event("send_sms.json", jane), lambda_context)

    assert result["outcome"] == "done"
    [sent] = sent_sms()
    assert (sent.phone_number, sent.text) == ("+14155550123", "Thanks Jane! Code WELCOME")


def test_given_a_sent_sms_when_the_history_is_read_then_it_has_the_message_id_and_a_masked_number(
        ready, lambda_context, capsys):
    jane = a_contact(first_name="Jane", phone="+14155550123")

    send(task_event("send_sms.json", jane), lambda_context)

    [sent] = sent_sms()
    [entry] = history(jane, "sms.sent")
    assert entry.detail["message_id"] == sent.id
    assert "555" not in entry.detail["to"] and entry.detail["to"].endswith("0123")
    assert (entry.map_id, entry.step_id) == ("welcome-leads", "engaged-sms")
    assert "4155550123" not in capsys.readouterr().out


def test_given_the_enrollment_carried_an_offer_when_the_sms_runs_then_its_code_is_used(ready, lambda_context):
    jane = a_contact(first_name="Jane", phone="+14155550123")
    event = task_event("send_sms.json", jane)
    enrolled(jane, event, {"type": "form_submitted", "form": "newsletter", "offer": {"code": "SMS10"}})

    send(event, lambda_context)

    assert [s.text for s in sent_sms()] == ["Thanks Jane! Code SMS10"]


def test_given_a_contact_without_a_phone_when_the_sms_runs_then_it_is_skipped_and_recorded(ready, lambda_context):
    jane = a_contact(first_name="Jane")

    result = send(task_event("send_sms.json", jane), lambda_context)

    assert (result["outcome"], result["reason"]) == ("skipped", "the contact has no phone number")
    assert sent_sms() == []
    [skipped] = history(jane, "step.skipped")
    assert skipped.detail["reason"] == "the contact has no phone number"
    assert skipped.step_id == "engaged-sms"


def test_given_a_missing_merge_field_when_the_sms_runs_then_it_is_skipped_naming_the_field(ready, lambda_context):
    jane = a_contact(phone="+14155550123")

    result = send(task_event("send_sms.json", jane), lambda_context)

    assert (result["outcome"], result["reason"]) == ("skipped", "missing field: contact.first_name")
    assert sent_sms() == []
    [skipped] = history(jane, "step.skipped")
    assert skipped.detail["missing"] == ["contact.first_name"]


def test_given_a_contact_who_texted_stop_when_the_sms_runs_then_it_is_skipped(ready, lambda_context):
    jane = a_contact(first_name="Jane", phone="+14155550123")
    ContactStore().set_unsubscribed(jane.id, "sms")

    result = send(task_event("send_sms.json", jane), lambda_context)

    assert (result["outcome"], result["reason"]) == ("skipped", "the contact unsubscribed from SMS")
    assert sent_sms() == []


def test_given_a_phone_that_is_not_a_number_when_the_sms_runs_then_the_step_fails_without_the_number(
        ready, lambda_context):
    jane = a_contact(first_name="Jane", phone="555 01")

    result = send(task_event("send_sms.json", jane), lambda_context)

    assert result["outcome"] == "failed" and "not a valid phone number" in result["reason"]
    assert "555 01" not in result["reason"]
    assert sent_sms() == []


def test_given_the_same_task_event_twice_when_run_then_one_sms_is_sent(ready, lambda_context):
    jane = a_contact(first_name="Jane", phone="+14155550123")
    event = task_event("send_sms.json", jane)

    first, second = send(event, lambda_context), send(event, lambda_context)

    assert first == second
    assert len(sent_sms()) == 1
