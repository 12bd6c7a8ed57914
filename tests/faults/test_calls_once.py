"""Every call, team notification, grant, audience update and generation happens once, or is
recorded as "outcome unknown" and never made again; and the history says what the world saw.

Each specification injects a fault between the effect and its answer, from outside the code
under test, then runs the same task event again as the state's Retry (or a retry after the
idempotency record expired) would:

- moto's SES and SNS take the request, then the answer is lost inside botocore's transport
  (``before-send``, in its retry loop: a client retrying by itself would send a second message);
- Amazon Connect, End User Messaging voice and Bedrock, which moto lacks, are answered at the same
  transport by a fake of the operation (the requests and answers go through the real models);
- the local WordPress and Graph API servers act, then answer too late for the client's timeout.
"""

from __future__ import annotations

from typing import Any

import pytest

from automaps import aws as aws_clients
from automaps.store import connections
from automaps.store import routing
from automaps.actions import ai_assistant
from automaps.store.contacts import ContactStore
from automaps.store.content import ContentStore
from automaps.journeys.steps import TransientError
from functions.ai_assistant import app as ai_app
from functions.facebook_custom_audience import app as facebook_app
from functions.grant_wordpress_membership import app as grant_app
from functions.make_phone_call import app as call_app
from functions.notify_team_email import app as team_email_app
from functions.notify_team_sms import app as team_sms_app
from functions.revoke_wordpress_membership import app as revoke_app
from tests.actions.endpoint import Answer
from tests.actions.endpoint import serving as serving_endpoint
from tests.actions.sending import a_contact, enrolled, history, task_event
from tests.faults.sends_givens import (
    FakeService,
    effect_markers,
    idempotency_expired,
    lost_in_transit,
    operation_is,
)
from tests.outbox import sent_emails, sent_sms
from tests.providers.fixtures import wordpress_site

SES_SEND = {"path": "/v2/email/outbound-emails"}
SNS_PUBLISH = {"action": "Publish"}
CALL_CENTER = {"type": "connect", "instance_id": "11111111-2222-3333-4444-555555555555",
               "contact_flow_id": "66666666-7777-8888-9999-000000000000", "queue_id": "q-outbound"}
TRIGGER = {"type": "form_submitted", "form": "newsletter", "fields": {"plan": "pro"}}


@pytest.fixture
def jane(aws, clock):
    """GIVEN Jane, a lead with an email and a phone, enrolled in welcome-leads by the newsletter form."""
    contact = a_contact("jane.doe@example.com", first_name="Jane", last_name="Doe", phone="+14155550123",
                        country="US", age=52)
    enrolled(contact, task_event("make_phone_call.json", contact), TRIGGER)
    return contact


def kinds_of(contact) -> list[str]:
    return [entry.kind for entry in history(contact)]


def step_entries(contact) -> list[str]:
    return [kind for kind in kinds_of(contact) if kind.startswith("step.")]


# ------------------------------------------------------------------ the send clients


def test_given_the_send_clients_when_made_then_one_attempt_each_and_every_other_client_keeps_its_retries(aws):
    for service in ("sesv2", "sns", "pinpoint-sms-voice-v2", "connect"):
        assert aws_clients.client(service).meta.config.retries["total_max_attempts"] == 1, service
    assert aws_clients.client("dynamodb").meta.config.retries.get("total_max_attempts", 3) > 1
    assert aws_clients.client("sesv2") is aws_clients.client("sesv2")  # made once, shared


# ------------------------------------------------------------------ make_phone_call


def test_given_end_user_messaging_places_the_call_and_its_answer_is_lost_when_retried_then_one_call_and_unknown(
        jane, lambda_context):
    event = task_event("make_phone_call.json", jane)

    with FakeService(aws_clients.client("pinpoint-sms-voice-v2"), "SendVoiceMessage",
                     lambda _: {"MessageId": "voice-1"}) as voice:
        # WHEN the service places the call and the answer is lost; then the visit runs again
        voice.lose_next()
        first = call_app.lambda_handler(event, lambda_context)
        idempotency_expired()
        again = call_app.lambda_handler(event, lambda_context)

    # THEN one call was placed, the step says its outcome is unknown (once), nothing claims it was placed
    assert len(voice.received) == 1
    assert voice.received[0]["DestinationPhoneNumber"] == "+14155550123"
    assert first["outcome"] == again["outcome"] == "unknown"
    assert first["reason"] == ("End User Messaging voice may have accepted the request but its answer was lost "
                               "(ReadTimeoutError); not resent")
    assert step_entries(jane) == ["step.outcome_unknown"]
    assert "call.placed" not in kinds_of(jane)
    [marker] = effect_markers(jane.id)
    assert (marker["effect"], marker["status"]) == ("call", "unknown")


def test_given_amazon_connect_starts_the_call_and_its_answer_is_lost_when_retried_then_the_same_call_is_recorded(
        jane, lambda_context):
    ContentStore().put("CONNECTION", "call-center", connections.validate(CALL_CENTER).model_dump(mode="json"))
    event = task_event("make_phone_call.json", jane, settings={
        "from": "+18885550100", "connection": "call-center", "record": True,
        "script": [{"say": "Hi {{ contact.first_name }}, connecting you."}, {"connect": "+14155550199"}]})
    calls: dict[str, str] = {}  # Connect's ClientToken: a repeat of a request is the same contact

    def start(request: dict[str, Any]) -> dict[str, Any]:
        contact_id = calls.setdefault(request["ClientToken"], f"contact-{len(calls) + 1}")
        return {"ContactId": contact_id}

    with FakeService(aws_clients.client("connect"), "StartOutboundVoiceContact", start) as connect:
        # WHEN Connect starts the call and the answer is lost; then the state's Retry runs the step
        connect.lose_next()
        with pytest.raises(TransientError, match="retried with the same idempotency key"):
            call_app.lambda_handler(event, lambda_context)
        retried = call_app.lambda_handler(event, lambda_context)

    # THEN the retry repeated the request with the same ClientToken: one call, recorded once
    assert len(connect.received) == 2 and len(calls) == 1
    assert connect.received[0] == connect.received[1]
    assert retried["outcome"] == "done" and retried["detail"]["call_id"] == "contact-1"
    [placed] = history(jane, "call.placed")
    assert placed.detail["call_id"] == "contact-1" and placed.detail["provider"] == "connect"
    assert step_entries(jane) == ["step.done"]


# ------------------------------------------------------------------ notify_team_email / notify_team_sms


def test_given_ses_takes_the_first_team_email_and_its_answer_is_lost_when_retried_then_each_recipient_has_one(
        jane, lambda_context):
    event = task_event("notify_team_email.json", jane)

    with lost_in_transit(aws_clients.client("sesv2"), lambda r: operation_is(r, **SES_SEND)) as lost:
        first = team_email_app.lambda_handler(event, lambda_context)
    assert len(lost) == 1
    idempotency_expired()
    again = team_email_app.lambda_handler(event, lambda_context)

    # THEN one email per recipient (the SDK did not resend the lost one, the retry sent nothing)
    assert sorted(r for email in sent_emails() for r in email.recipients) == [
        "sales@example.com", "sam@shipping.example.net"]
    assert first["outcome"] == again["outcome"] == "unknown"
    assert first["reason"].startswith("1 of 2 notifications may have gone out but their answer was lost (SES")
    [notified] = history(jane, "team.notified")
    assert notified.detail["name"] == "Sam (shipping)"
    assert step_entries(jane) == ["step.outcome_unknown"]


def test_given_sns_takes_a_team_sms_and_its_answer_is_lost_when_retried_then_each_number_has_one(
        jane, lambda_context):
    event = task_event("notify_team_sms.json", jane)

    with lost_in_transit(aws_clients.client("sns"), lambda r: operation_is(r, **SNS_PUBLISH), times=2) as lost:
        first = team_sms_app.lambda_handler(event, lambda_context)
    assert len(lost) == 2
    idempotency_expired()
    again = team_sms_app.lambda_handler(event, lambda_context)

    assert sorted(sms.phone_number for sms in sent_sms()) == ["+14155550100", "+442079460958"]
    assert first["outcome"] == again["outcome"] == "unknown"
    assert "2 of 2 notifications may have gone out" in first["reason"]
    assert "team.notified" not in kinds_of(jane)
    assert step_entries(jane) == ["step.outcome_unknown"]
    assert {m["status"] for m in effect_markers(jane.id)} == {"unknown"}


# ------------------------------------------------------------------ WordPress


@pytest.fixture
def wordpress(jane, monkeypatch):
    """GIVEN the members site (a WordPress on 127.0.0.1) and a client that waits 0.3 s for an answer."""
    from automaps.providers import http

    monkeypatch.setattr(http, "READ_TIMEOUT", 0.3)
    with wordpress_site() as fake:
        yield fake


def test_given_wordpress_creates_the_member_and_answers_too_late_when_retried_then_one_user_and_unknown(
        jane, wordpress, lambda_context):
    event = task_event("grant_wordpress_membership.json", jane)
    wordpress.slow_next("POST", "/wp-json/wp/v2/users", delay=1.0)

    first = grant_app.lambda_handler(event, lambda_context)
    idempotency_expired()
    again = grant_app.lambda_handler(event, lambda_context)

    # THEN the user was created once, with the role; the step says the outcome is unknown, once
    assert len(wordpress.requests("POST")) == 1
    assert wordpress.by_email("jane.doe@example.com")["roles"] == ["member"]
    assert first["outcome"] == again["outcome"] == "unknown"
    assert "WordPress may have accepted the POST but its answer was lost" in first["reason"]
    assert "wordpress.access_granted" not in kinds_of(jane)
    assert step_entries(jane) == ["step.outcome_unknown"]


def test_given_wordpress_revokes_the_role_and_answers_too_late_when_retried_then_one_change_and_unknown(
        jane, wordpress, lambda_context):
    user = wordpress.user("jane.doe@example.com", ["subscriber", "member"])
    event = task_event("revoke_wordpress_membership.json", jane)
    wordpress.slow_next("POST", f"/wp-json/wp/v2/users/{user}", delay=1.0)

    first = revoke_app.lambda_handler(event, lambda_context)
    idempotency_expired()
    again = revoke_app.lambda_handler(event, lambda_context)

    assert len(wordpress.requests("POST")) == 1
    assert wordpress.users[user]["roles"] == ["subscriber"]
    assert first["outcome"] == again["outcome"] == "unknown"
    assert "wordpress.access_revoked" not in kinds_of(jane)
    assert step_entries(jane) == ["step.outcome_unknown"]


# ------------------------------------------------------------------ Facebook custom audience


def test_given_facebook_adds_to_the_audience_and_answers_too_late_when_retried_then_one_update_and_unknown(
        jane, lambda_context, monkeypatch):
    from automaps.actions import facebook_custom_audience

    monkeypatch.setattr(facebook_custom_audience, "TIMEOUT_SECONDS", 0.3)
    with serving_endpoint() as graph:
        graph.answer(Answer(200, {"audience_id": "23851234567890123", "num_received": 1, "num_invalid_entries": 0},
                            delay=1.0))
        arn = aws_clients.client("secretsmanager").create_secret(
            Name="automaps/facebook", SecretString='{"access_token": "EAAB-test-token"}')["ARN"]
        ContentStore().put("CONNECTION", "facebook", connections.validate({
            "type": "facebook", "secret_arn": arn, "api_base": graph.url, "api_version": "v21.0",
            "default_country": "US"}).model_dump(mode="json"))
        event = task_event("facebook_custom_audience.json", jane)

        first = facebook_app.lambda_handler(event, lambda_context)
        idempotency_expired()
        again = facebook_app.lambda_handler(event, lambda_context)
        posts = [r for r in graph.received if r.method == "POST"]

    assert len(posts) == 1 and posts[0].route == "/v21.0/23851234567890123/users"
    assert first["outcome"] == again["outcome"] == "unknown"
    assert "Facebook may have accepted the POST but its answer was lost" in first["reason"]
    assert "audience.updated" not in kinds_of(jane)
    assert step_entries(jane) == ["step.outcome_unknown"]


# ------------------------------------------------------------------ ai_assistant (Bedrock)


def test_given_bedrock_generates_and_its_answer_is_lost_when_retried_then_one_generation_and_unknown(
        jane, lambda_context):
    event = task_event("ai_assistant.json", jane)
    answer = {"output": {"message": {"role": "assistant", "content": [{"text": "Welcome aboard, Jane!"}]}},
              "stopReason": "end_turn", "usage": {"inputTokens": 48, "outputTokens": 7, "totalTokens": 55},
              "metrics": {"latencyMs": 812}}

    with FakeService(ai_assistant.bedrock(), "Converse", lambda _: answer) as bedrock:
        bedrock.lose_next()
        first = ai_app.lambda_handler(event, lambda_context)
        idempotency_expired()
        again = ai_app.lambda_handler(event, lambda_context)

    assert len(bedrock.received) == 1
    assert first["outcome"] == again["outcome"] == "unknown"
    assert "Bedrock may have generated" in first["reason"]
    assert "ai_intro" not in ContactStore().require(jane.id).fields and "ai.generated" not in kinds_of(jane)
    assert step_entries(jane) == ["step.outcome_unknown"]


def test_given_bedrock_answered_and_the_outcome_was_not_saved_when_retried_then_bedrock_is_not_asked_again(
        jane, lambda_context):
    event = task_event("ai_assistant.json", jane)
    answer = {"output": {"message": {"role": "assistant", "content": [{"text": "Welcome aboard, Jane!"}]}},
              "stopReason": "end_turn", "usage": {"inputTokens": 48, "outputTokens": 7, "totalTokens": 55},
              "metrics": {"latencyMs": 812}}

    with FakeService(ai_assistant.bedrock(), "Converse", lambda _: answer) as bedrock:
        first = ai_app.lambda_handler(event, lambda_context)
        idempotency_expired()  # the Lambda stopped before Powertools saved the outcome
        again = ai_app.lambda_handler(event, lambda_context)

    assert len(bedrock.received) == 1
    assert first["outcome"] == again["outcome"] == "done"
    assert again["detail"]["text"] == "Welcome aboard, Jane!"
    assert len(history(jane, "ai.generated")) == 1
    assert step_entries(jane) == ["step.done"]


# ------------------------------------------------------------------ add_to_lead_router's owner email


def test_given_ses_takes_the_owner_email_and_its_answer_is_lost_when_retried_then_the_lead_is_routed_and_told_once(
        jane, lambda_context):
    from functions.add_to_lead_router import app as router_app

    ContentStore().put("ROUTER", "sales", routing.validate({"strategy": "round_robin", "reps": [
        {"email": "ana@example.com", "name": "Ana"}, {"email": "bo@example.com", "name": "Bo"}]}).model_dump(mode="json"))
    event = task_event("add_to_lead_router.json", jane)

    with lost_in_transit(aws_clients.client("sesv2"), lambda r: operation_is(r, **SES_SEND)) as lost:
        first = router_app.lambda_handler(event, lambda_context)
    assert len(lost) == 1
    idempotency_expired()
    again = router_app.lambda_handler(event, lambda_context)

    # THEN Ana got the lead and one email; the step says the email's outcome is unknown
    assert [r for email in sent_emails() for r in email.recipients] == ["ana@example.com"]
    assert routing.turns("sales") == 1
    assert first["outcome"] == again["outcome"] == "done"
    assert first["detail"]["notified"] == again["detail"]["notified"] == "unknown"
    assert [e.detail["rep"] for e in history(jane, "lead.routed")] == ["Ana"]
    assert step_entries(jane) == ["step.done"]


# ------------------------------------------------------------------ then_check: the if after a step


def test_given_a_step_that_decides_the_next_if_when_its_outcome_is_lost_and_it_is_retried_then_one_evaluation(
        jane, lambda_context):
    from functions.notify_team_sms import app

    event = task_event("notify_team_sms.json", jane, then_check={
        "step_id": "is-local", "condition": {"field": {"name": "age", "gt": 45}}})

    first = app.lambda_handler(event, lambda_context)
    idempotency_expired()  # Powertools never saved the outcome: the Retry runs the visit again
    again = app.lambda_handler(event, lambda_context)

    assert first["check"] == again["check"] == {"result": True}
    assert len(sent_sms()) == 2
    [evaluated] = history(jane, "condition.evaluated")
    assert evaluated.step_id == "is-local" and evaluated.detail["result"] is True
    assert evaluated.detail["visit"]
    assert step_entries(jane) == ["step.done"]
