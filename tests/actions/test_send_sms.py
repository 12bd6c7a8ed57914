"""send_sms: a text rendered for the contact, sent once through SNS or AWS End User Messaging SMS
to an E.164 number; every reason not to send is recorded."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber
from pydantic import ValidationError

from automaps import aws as aws_clients
from automaps.actions.send_sms import Settings
from automaps.store.contacts import ContactStore
from automaps.journeys.steps import TransientError
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


# ------------------------------------------------------------------ AWS End User Messaging SMS
# moto lacks pinpoint-sms-voice-v2: botocore's Stubber checks each request against the service's
# real model (parameter names, types, enums) and answers as the service would.

EUM = {"provider": "end_user_messaging", "from": "+18885550100",
       "text": "Thanks {{ contact.first_name }}! Code {{ offer.code | default('WELCOME') }}"}


def eum_event(contact, **settings) -> dict:
    return task_event("send_sms.json", contact, settings={**EUM, **settings})


def test_given_end_user_messaging_when_the_sms_runs_then_send_text_message_goes_from_the_chosen_number(
        ready, lambda_context):
    jane = a_contact(first_name="Jane", phone="(415) 555-0123", country="US")

    with Stubber(aws_clients.client("pinpoint-sms-voice-v2")) as eum:
        eum.add_response("send_text_message", {"MessageId": "eum-msg-1"}, expected_params={
            "DestinationPhoneNumber": "+14155550123", "OriginationIdentity": "+18885550100",
            "MessageBody": "Thanks Jane! Code WELCOME", "MessageType": "PROMOTIONAL"})
        result = send(eum_event(jane), lambda_context)
        eum.assert_no_pending_responses()

    assert result["outcome"] == "done"
    assert sent_sms() == []  # not through SNS
    [entry] = history(jane, "sms.sent")
    assert entry.detail == {"message_id": "eum-msg-1", "to": "+1******0123", "provider": "end_user_messaging"}


def test_given_a_transactional_type_and_configuration_set_when_sent_then_both_are_passed(ready, lambda_context):
    jane = a_contact(first_name="Jane", phone="+14155550123")

    with Stubber(aws_clients.client("pinpoint-sms-voice-v2")) as eum:
        eum.add_response("send_text_message", {"MessageId": "eum-msg-2"}, expected_params={
            "DestinationPhoneNumber": "+14155550123", "OriginationIdentity": "pool-0a1b2c3d",
            "MessageBody": "Your code is 1234", "MessageType": "TRANSACTIONAL", "ConfigurationSetName": "events"})
        result = send(eum_event(jane, **{"from": "pool-0a1b2c3d", "text": "Your code is 1234",
                                          "message_type": "transactional", "configuration_set": "events"}),
                      lambda_context)

    assert result["outcome"] == "done"


def test_given_end_user_messaging_and_no_phone_when_the_sms_runs_then_it_is_skipped_without_a_call(
        ready, lambda_context):
    jane = a_contact(first_name="Jane")

    with Stubber(aws_clients.client("pinpoint-sms-voice-v2")):  # any call would fail: no response queued
        result = send(eum_event(jane), lambda_context)

    assert (result["outcome"], result["reason"]) == ("skipped", "the contact has no phone number")


def test_given_end_user_messaging_and_a_missing_merge_field_when_run_then_it_is_skipped_naming_it(
        ready, lambda_context):
    jane = a_contact(phone="+14155550123")

    with Stubber(aws_clients.client("pinpoint-sms-voice-v2")):
        result = send(eum_event(jane), lambda_context)

    assert (result["outcome"], result["reason"]) == ("skipped", "missing field: contact.first_name")
    assert history(jane, "sms.sent") == []


def test_given_end_user_messaging_throttles_when_the_sms_runs_then_it_retries_and_sends_once(ready, lambda_context):
    jane = a_contact(first_name="Jane", phone="+14155550123")
    event = eum_event(jane)

    with Stubber(aws_clients.client("pinpoint-sms-voice-v2")) as eum:
        eum.add_client_error("send_text_message", "ThrottlingException", "Rate exceeded", 429)
        with pytest.raises(TransientError, match="End User Messaging ThrottlingException"):
            send(event, lambda_context)
        eum.add_response("send_text_message", {"MessageId": "eum-msg-3"})
        first, again = send(event, lambda_context), send(event, lambda_context)
        eum.assert_no_pending_responses()

    assert first == again and first["outcome"] == "done"
    assert len(history(jane, "sms.sent")) == 1


def test_given_an_internal_error_when_the_sms_runs_then_it_is_transient(ready, lambda_context):
    jane = a_contact(first_name="Jane", phone="+14155550123")

    with Stubber(aws_clients.client("pinpoint-sms-voice-v2")) as eum:
        eum.add_client_error("send_text_message", "InternalServerException", "", 500)
        with pytest.raises(TransientError):
            send(eum_event(jane), lambda_context)


def test_given_an_opted_out_number_when_the_sms_runs_then_the_step_fails_without_retry(ready, lambda_context):
    jane = a_contact(first_name="Jane", phone="+14155550123")

    with Stubber(aws_clients.client("pinpoint-sms-voice-v2")) as eum:
        eum.add_client_error("send_text_message", "ConflictException", "+14155550123 opted out", 400,
                             response_meta={}, modeled_fields={"Reason": "DESTINATION_PHONE_NUMBER_OPTED_OUT",
                                                               "ResourceType": "opt-out-list", "ResourceId": "x"})
        result = send(eum_event(jane), lambda_context)

    assert result["outcome"] == "failed"
    assert result["reason"] == ("End User Messaging refused the message (opted out or a conflicting resource) "
                                "(ConflictException, DESTINATION_PHONE_NUMBER_OPTED_OUT)")
    assert "4155550123" not in result["reason"]


def test_given_an_unknown_sending_number_when_the_sms_runs_then_the_step_fails(ready, lambda_context):
    jane = a_contact(first_name="Jane", phone="+14155550123")

    with Stubber(aws_clients.client("pinpoint-sms-voice-v2")) as eum:
        eum.add_client_error("send_text_message", "ResourceNotFoundException", "not found", 404)
        result = send(eum_event(jane), lambda_context)

    assert result["outcome"] == "failed" and "origination identity" in result["reason"]


@pytest.mark.parametrize("settings, message", [
    ({"provider": "end_user_messaging"}, "provider end_user_messaging needs 'from'"),
    ({"provider": "end_user_messaging", "from": "+18885550100", "sender_id": "Shop"},
     "sender_id is for provider sns"),
    ({"from": "+18885550100"}, "from: only for provider end_user_messaging"),
    ({"message_type": "transactional"}, "message_type: only for provider end_user_messaging"),
    ({"provider": "pinpoint"}, "Input should be 'sns' or 'end_user_messaging'"),
])
def test_given_provider_settings_that_do_not_fit_when_validated_then_the_message_says_what_to_change(
        settings, message):
    with pytest.raises(ValidationError, match=message):
        Settings.model_validate({"text": "hi", **settings})
