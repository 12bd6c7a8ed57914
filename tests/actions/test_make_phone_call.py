"""make_phone_call: a call script (say, pause, connect, hang up) rendered for the contact; spoken
calls through End User Messaging voice (SSML), calls that connect or record through Amazon
Connect. moto has neither API: botocore's Stubber checks every request against the services'
real models and answers as they do."""

from __future__ import annotations

import pytest
from botocore.stub import ANY, Stubber
from pydantic import ValidationError

from automaps import aws as aws_clients
from automaps.store import connections
from automaps.actions.make_phone_call import Settings
from automaps.store.content import ContentStore
from automaps.journeys.steps import TaskEvent, TransientError
from functions.make_phone_call import app
from tests.actions.sending import a_contact, history, task_event

SPOKEN_SSML = ('<speak>Hi Jane, thanks for joining us. <break time="1000ms"/> '
               'We will email your first guide today. Goodbye!</speak>')
CALL_CENTER = {"type": "connect", "instance_id": "11111111-2222-3333-4444-555555555555",
               "contact_flow_id": "66666666-7777-8888-9999-000000000000", "queue_id": "q-outbound"}
TRANSFER = {"from": "+18885550100", "connection": "call-center", "record": True, "name": "Welcome call",
            "script": [{"say": "Hi {{ contact.first_name }}, connecting you to our team."},
                       {"connect": "{{ contact.owner_phone | default('+14155550199') }}"}]}


@pytest.fixture
def ready(aws, clock):
    """GIVEN the stack is up and the clock stands still."""


@pytest.fixture
def call_center(ready):
    """GIVEN content/connections/call-center.yaml (an Amazon Connect instance) was pushed."""
    ContentStore().put("CONNECTION", "call-center", connections.validate(CALL_CENTER).model_dump(mode="json"))


def call(event: dict, lambda_context) -> dict:
    return app.lambda_handler(event, lambda_context)


def voice_stub() -> Stubber:
    return Stubber(aws_clients.client("pinpoint-sms-voice-v2"))


def connect_stub() -> Stubber:
    return Stubber(aws_clients.client("connect"))


# ------------------------------------------------------------------ spoken calls

def test_given_a_spoken_script_when_the_call_runs_then_end_user_messaging_speaks_the_ssml(ready, lambda_context):
    jane = a_contact(first_name="Jane", phone="(415) 555-0123", country="US")

    with voice_stub() as voice:
        voice.add_response("send_voice_message", {"MessageId": "voice-1"}, expected_params={
            "DestinationPhoneNumber": "+14155550123", "OriginationIdentity": "+18885550100",
            "MessageBody": SPOKEN_SSML, "MessageBodyTextType": "SSML", "VoiceId": "JOANNA"})
        result = call(task_event("make_phone_call.json", jane), lambda_context)
        voice.assert_no_pending_responses()

    assert result["outcome"] == "done"
    [placed] = history(jane, "call.placed")
    assert placed.detail == {"call_id": "voice-1", "provider": "end_user_messaging", "to": "+1******0123",
                             "record": False, "transfer_to": None, "steps": 4}
    assert (placed.map_id, placed.step_id) == ("welcome-leads", "welcome-call")


def test_given_contact_data_with_markup_when_spoken_then_it_is_escaped_and_cannot_become_ssml(
        ready, lambda_context):
    jane = a_contact(first_name='Jane<break time="10s"/> & "co"', phone="+14155550123")

    with voice_stub() as voice:
        voice.add_response("send_voice_message", {"MessageId": "voice-2"}, expected_params={
            "DestinationPhoneNumber": "+14155550123", "OriginationIdentity": "+18885550100",
            "MessageBody": '<speak>Hi Jane&lt;break time=&quot;10s&quot;/&gt; &amp; &quot;co&quot;, thanks for '
                           'joining us. <break time="1000ms"/> We will email your first guide today. '
                           'Goodbye!</speak>',
            "MessageBodyTextType": "SSML", "VoiceId": "JOANNA"})
        result = call(task_event("make_phone_call.json", jane), lambda_context)

    assert result["outcome"] == "done"


def test_given_the_same_task_event_twice_when_run_then_one_call_is_placed(ready, lambda_context):
    jane = a_contact(first_name="Jane", phone="+14155550123")
    event = task_event("make_phone_call.json", jane)

    with voice_stub() as voice:
        voice.add_response("send_voice_message", {"MessageId": "voice-3"})
        first, second = call(event, lambda_context), call(event, lambda_context)  # a second call would fail
        voice.assert_no_pending_responses()

    assert first == second
    assert len(history(jane, "call.placed")) == 1


# ------------------------------------------------------------------ connect and record: Amazon Connect

def test_given_a_script_that_connects_and_records_when_run_then_connect_places_it_with_the_script_as_attributes(
        call_center, lambda_context):
    jane = a_contact(first_name="Jane", phone="+14155550123")
    event = task_event("make_phone_call.json", jane, settings=TRANSFER)
    visit = TaskEvent.model_validate(event).idempotency_key

    with connect_stub() as connect:
        connect.add_response("start_outbound_voice_contact", {"ContactId": "contact-1"}, expected_params={
            "DestinationPhoneNumber": "+14155550123", "ContactFlowId": CALL_CENTER["contact_flow_id"],
            "InstanceId": CALL_CENTER["instance_id"], "QueueId": "q-outbound", "SourcePhoneNumber": "+18885550100",
            "ClientToken": visit, "Name": "Welcome call",
            "Attributes": {"automaps_ssml": "<speak>Hi Jane, connecting you to our team.</speak>",
                           "automaps_transfer_to": "+14155550199", "automaps_record": "true",
                           "automaps_voice": "JOANNA", "automaps_contact_id": jane.id}})
        result = call(event, lambda_context)
        connect.assert_no_pending_responses()

    assert result["outcome"] == "done"
    [placed] = history(jane, "call.placed")
    assert placed.detail == {"call_id": "contact-1", "provider": "connect", "to": "+1******0123", "record": True,
                             "transfer_to": "+1******0199", "steps": 2}


def test_given_connect_is_over_its_limit_when_the_call_runs_then_it_retries_with_the_same_client_token(
        call_center, lambda_context):
    jane = a_contact(first_name="Jane", phone="+14155550123")
    event = task_event("make_phone_call.json", jane, settings=TRANSFER)
    token = TaskEvent.model_validate(event).idempotency_key

    with connect_stub() as connect:
        connect.add_client_error("start_outbound_voice_contact", "LimitExceededException", "slow down", 429)
        connect.add_response("start_outbound_voice_contact", {"ContactId": "contact-2"},
                             expected_params={"DestinationPhoneNumber": ANY, "ContactFlowId": ANY, "InstanceId": ANY,
                                              "QueueId": ANY, "SourcePhoneNumber": ANY, "Name": ANY,
                                              "Attributes": ANY, "ClientToken": token})
        with pytest.raises(TransientError, match="Amazon Connect LimitExceededException"):
            call(event, lambda_context)
        assert call(event, lambda_context)["outcome"] == "done"

    assert len(history(jane, "call.placed")) == 1


def test_given_a_destination_connect_may_not_call_when_run_then_the_step_fails_without_retry(
        call_center, lambda_context):
    jane = a_contact(first_name="Jane", phone="+14155550123")

    with connect_stub() as connect:
        connect.add_client_error("start_outbound_voice_contact", "DestinationNotAllowedException", "no", 403)
        result = call(task_event("make_phone_call.json", jane, settings=TRANSFER), lambda_context)

    assert (result["outcome"], result["reason"]) == (
        "failed", "Amazon Connect may not call this destination (DestinationNotAllowedException)")


def test_given_a_connect_connection_that_is_not_stored_when_run_then_the_step_fails_naming_it(
        ready, lambda_context):
    jane = a_contact(first_name="Jane", phone="+14155550123")

    with connect_stub():
        result = call(task_event("make_phone_call.json", jane, settings=TRANSFER), lambda_context)

    assert (result["outcome"], result["reason"]) == (
        "failed", "no connection named 'call-center' (content/connections/call-center.yaml)")


def test_given_a_transfer_number_that_is_not_a_number_when_run_then_the_step_fails_before_calling(
        call_center, lambda_context):
    jane = a_contact(first_name="Jane", phone="+14155550123", owner_phone="ask Bob")

    with connect_stub():
        result = call(task_event("make_phone_call.json", jane, settings=TRANSFER), lambda_context)

    assert result["outcome"] == "failed" and "not a valid phone number" in result["reason"]


# ------------------------------------------------------------------ reasons not to call

def test_given_a_contact_without_a_phone_when_the_call_runs_then_it_is_skipped_and_recorded(ready, lambda_context):
    jane = a_contact(first_name="Jane")

    with voice_stub():
        result = call(task_event("make_phone_call.json", jane), lambda_context)

    assert (result["outcome"], result["reason"]) == ("skipped", "the contact has no phone number")
    assert history(jane, "call.placed") == []


def test_given_a_missing_merge_field_when_the_call_runs_then_it_is_skipped_naming_it(ready, lambda_context):
    jane = a_contact(phone="+14155550123")

    with voice_stub():
        result = call(task_event("make_phone_call.json", jane), lambda_context)

    assert (result["outcome"], result["reason"]) == ("skipped", "missing field: contact.first_name")


def test_given_end_user_messaging_throttles_when_the_call_runs_then_it_is_transient(ready, lambda_context):
    jane = a_contact(first_name="Jane", phone="+14155550123")

    with voice_stub() as voice:
        voice.add_client_error("send_voice_message", "ThrottlingException", "Rate exceeded", 429)
        with pytest.raises(TransientError):
            call(task_event("make_phone_call.json", jane), lambda_context)


def test_given_end_user_messaging_refuses_the_request_when_the_call_runs_then_the_step_fails(
        ready, lambda_context):
    jane = a_contact(first_name="Jane", phone="+14155550123")

    with voice_stub() as voice:
        voice.add_client_error("send_voice_message", "ValidationException", "bad voice", 400)
        result = call(task_event("make_phone_call.json", jane), lambda_context)

    assert (result["outcome"], result["reason"]) == (
        "failed", "End User Messaging refused the request (ValidationException)")


# ------------------------------------------------------------------ settings

@pytest.mark.parametrize("settings, message", [
    ({"from": "+18885550100", "script": ["hang_up", {"say": "hi"}]}, "hang_up ends the call"),
    ({"connection": "cc", "script": [{"connect": "+14155550199"}, {"say": "hi"}]}, "connect must be the last step"),
    ({"script": [{"say": "hi"}, {"connect": "+14155550199"}]}, "set 'connection' to a connect connection"),
    ({"script": [{"say": "hi"}], "record": True}, "set 'connection' to a connect connection"),
    ({"script": [{"say": "hi"}]}, "set 'from' to your calling number"),
    ({"from": "+18885550100", "script": [{"sing": "hi"}]},
     "script step 1 is {'sing': 'hi'}; each step is one of: say: <text>, pause: <seconds>"),
    ({"from": "+18885550100", "script": [{"pause": 2}, "hang_up"]}, "neither says anything nor connects"),
    ({"from": "+18885550100", "script": [{"say": "hi"}, {"pause": 30}]}, "less than or equal to 10"),
    ({"from": "+18885550100", "script": []}, "at least 1 item"),
])
def test_given_a_script_that_does_not_fit_when_validated_then_the_message_says_what_to_change(settings, message):
    with pytest.raises(ValidationError, match=message):
        Settings.model_validate(settings)


def test_given_a_connect_followed_by_hang_up_when_validated_then_it_is_accepted():
    settings = Settings.model_validate({"connection": "cc", "voice": "matthew",
                                        "script": [{"say": "One moment"}, {"connect": "+14155550199"}, "hang_up"]})

    assert settings.uses_connect and settings.voice == "MATTHEW"
