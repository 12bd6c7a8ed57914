"""Every send happens exactly once, or is recorded as "outcome unknown" and never sent again;
and the history says what the world saw. Faults are injected from outside: botocore hooks on the
shared clients, real SMTP and HTTP servers misbehaving, a Lambda stopped mid-flight."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from automaps import aws as aws_clients
from automaps.store.content import ContentStore
from botocore.stub import Stubber

from functions.cancel_open_orders import app as cancel_app
from functions.record_failure import app as record_failure_app
from functions.send_email import app as email_app
from functions.send_sms import app as sms_app
from functions.send_webhook import app as webhook_app
from tests.actions.sending import a_contact, history, shipped_template, task_event
from tests.conftest import FakeLambdaContext, load_event
from tests.faults.sends_givens import (
    DropsAfterData,
    LambdaTimedOut,
    QuitRefused,
    Receiver,
    answer_lost,
    effect_markers,
    hooked,
    lambda_stops,
    throttled,
)
from tests.outbox import sent_emails, sent_sms
from tests.providers.fixtures import stripe_account
from tests.providers.server import serving
from tests.smtp_server import SmtpServer

SES_SEND = "after-call.sesv2.SendEmail"


@pytest.fixture
def welcome(aws, clock):
    """GIVEN the welcome template is stored and Jane is a contact."""
    shipped_template("welcome")
    return a_contact(first_name="Jane", phone="+14155550134")


class ShortLivedContext(FakeLambdaContext):
    def get_remaining_time_in_millis(self) -> int:
        return 50


def kinds_of(contact) -> list[str]:
    return [entry.kind for entry in history(contact)]


# ------------------------------------------------------------------ SES


def test_given_ses_accepts_and_the_answer_is_lost_when_the_step_runs_and_is_retried_then_one_email_and_unknown(
        welcome, lambda_context):
    event = task_event("send_email.json", welcome)

    # WHEN SES takes the email and the read of its answer times out; then the visit is delivered again
    with hooked("sesv2", SES_SEND, answer_lost):
        first = email_app.lambda_handler(event, lambda_context)
    again = email_app.lambda_handler(event, lambda_context)

    # THEN one email went out, the step says its outcome is unknown, and nothing claims it was sent
    assert len(sent_emails()) == 1
    assert first["outcome"] == again["outcome"] == "unknown"
    [unknown] = history(welcome, "step.outcome_unknown")
    assert unknown.detail["effect"] == "email"
    assert unknown.detail["reason"] == ("SES may have accepted the request but its answer was lost "
                                        "(ReadTimeoutError); not resent")
    assert "email.sent" not in kinds_of(welcome)
    [marker] = effect_markers(welcome.id)
    assert marker["status"] == "unknown"


def test_given_ses_throttles_the_send_when_retried_then_the_retry_sends_it_once(welcome, lambda_context):
    event = task_event("send_email.json", welcome)

    with hooked("sesv2", "before-call.sesv2.SendEmail", throttled("SendEmail")), pytest.raises(Exception) as raised:
        email_app.lambda_handler(event, lambda_context)
    assert type(raised.value).__name__ == "TransientError"
    assert sent_emails() == [] and effect_markers(welcome.id) == []  # refused: the marker is released
    retried = email_app.lambda_handler(event, lambda_context)

    assert retried["outcome"] == "done"
    [email] = sent_emails()
    [sent] = history(welcome, "email.sent")
    assert sent.detail["message_id"] == email.id


def test_given_idempotency_save_success_is_throttled_when_retried_after_the_in_progress_record_expired_then_one_email(
        welcome, lambda_context):
    event = task_event("send_email.json", welcome)
    short = ShortLivedContext()  # 50 ms left: Powertools' in-progress record expires with it

    def save_success_throttled(params, **_):
        if "COMPLETED" in json.dumps(params.get("ExpressionAttributeValues", {})):
            raise throttled("UpdateItem")()

    with hooked("dynamodb", "before-parameter-build.dynamodb.UpdateItem", _only_idempotency(save_success_throttled)), \
            pytest.raises(Exception) as raised:
        email_app.lambda_handler(event, short)
    assert type(raised.value).__name__ == "TransientError"
    time.sleep(0.1)  # past the in-progress record's expiry: the Retry's next attempt may run the step again
    retried = email_app.lambda_handler(event, lambda_context)

    assert retried["outcome"] == "done"
    assert len(sent_emails()) == 1
    assert len(history(welcome, "email.sent")) == 1
    assert len(history(welcome, "step.done")) == 1


def _only_idempotency(hook):
    from automaps import config

    def on_update(params, **kwargs):
        if params.get("TableName") == config.idempotency_table():
            hook(params, **kwargs)
    return on_update


def test_given_the_lambda_times_out_after_ses_accepted_when_the_catch_records_the_failure_then_email_sent_and_done(
        welcome, lambda_context):
    event = task_event("send_email.json", welcome)

    armed: list[bool] = []

    def marking_done(params, **_):
        armed.append(params.get("ExpressionAttributeValues", {}).get(":s", {}).get("S") == "done")

    def stop_after_marker_done(**_):
        if armed and armed[-1]:
            raise LambdaTimedOut("Task timed out after 30.00 seconds")

    # WHEN the function is stopped by its timeout right after SES answered and the marker was updated
    with hooked("dynamodb", "before-parameter-build.dynamodb.UpdateItem", marking_done), \
            hooked("dynamodb", "after-call.dynamodb.UpdateItem", stop_after_marker_done), pytest.raises(LambdaTimedOut):
        email_app.lambda_handler(event, lambda_context)
    # and the state's Catch runs record_failure (a timeout is not in the Retry list)
    failure = {**load_event("record_failure.json"), "contact_id": welcome.id,
               "error": {"Error": "Sandbox.Timedout", "Cause": "Task timed out after 30.00 seconds"}}
    record_failure_app.lambda_handler(failure, lambda_context)

    # THEN one email, and the history says it was sent, with SES's message id, and the step done
    [email] = sent_emails()
    [sent] = history(welcome, "email.sent")
    assert sent.detail["message_id"] == email.id
    [done] = history(welcome, "step.done")
    assert done.detail["effects_done"] == ["email"]
    assert "step.failed" not in kinds_of(welcome)


def test_given_the_lambda_times_out_before_ses_answered_when_the_catch_records_the_failure_then_outcome_unknown(
        welcome, lambda_context):
    event = task_event("send_email.json", welcome)

    with hooked("sesv2", SES_SEND, lambda_stops), pytest.raises(LambdaTimedOut):
        email_app.lambda_handler(event, lambda_context)
    failure = {**load_event("record_failure.json"), "contact_id": welcome.id,
               "error": {"Error": "Sandbox.Timedout", "Cause": "Task timed out after 30.00 seconds"}}
    record_failure_app.lambda_handler(failure, lambda_context)

    assert len(sent_emails()) == 1
    [unknown] = history(welcome, "step.outcome_unknown")
    assert unknown.detail["effect"] == "email" and "Sandbox.Timedout" in unknown.detail["reason"]
    assert "step.failed" not in kinds_of(welcome) and "email.sent" not in kinds_of(welcome)


def test_given_a_step_that_failed_before_any_send_when_the_catch_records_it_then_step_failed(welcome, lambda_context):
    failure = {**load_event("record_failure.json"), "contact_id": welcome.id}

    record_failure_app.lambda_handler(failure, lambda_context)

    assert [k for k in kinds_of(welcome) if k.startswith("step.")] == ["step.failed"]


# ------------------------------------------------------------------ SMTP


def smtp_event(contact, server: SmtpServer) -> dict:
    ContentStore().put("CONNECTION", "office", server.connection())
    return task_event("send_email.json", contact, settings={"template": "welcome", "connection": "office"})


def test_given_an_smtp_server_that_answers_quit_with_421_when_the_email_runs_then_it_is_sent_once(
        welcome, lambda_context, tmp_path):
    server = SmtpServer(tmp_path)
    server.handler = server.controller.handler = QuitRefused()
    with server:
        result = email_app.lambda_handler(smtp_event(welcome, server), lambda_context)

    # THEN the 250 to DATA counted: done, received once (it used to be retried and sent three times)
    assert result["outcome"] == "done"
    [received] = server.received
    [sent] = history(welcome, "email.sent")
    assert sent.detail["message_id"] == received.header("Message-ID").strip("<>")


def test_given_an_smtp_server_that_drops_the_connection_after_data_when_run_twice_then_one_email_and_unknown(
        welcome, lambda_context, tmp_path):
    server = SmtpServer(tmp_path)
    server.handler = server.controller.handler = DropsAfterData()
    with server:
        event = smtp_event(welcome, server)
        first = email_app.lambda_handler(event, lambda_context)
        again = email_app.lambda_handler(event, lambda_context)

    assert len(server.received) == 1
    assert first["outcome"] == again["outcome"] == "unknown"
    assert "received the whole message but the connection was lost before its answer" in first["reason"]
    assert len(history(welcome, "step.outcome_unknown")) == 1


# ------------------------------------------------------------------ SMS


def test_given_sns_accepts_an_sms_and_the_answer_is_lost_when_run_twice_then_one_sms_and_unknown(
        welcome, lambda_context):
    event = task_event("send_sms.json", welcome)

    with hooked("sns", "after-call.sns.Publish", answer_lost):
        first = sms_app.lambda_handler(event, lambda_context)
    again = sms_app.lambda_handler(event, lambda_context)

    assert len(sent_sms()) == 1
    assert first["outcome"] == again["outcome"] == "unknown"
    assert first["reason"].startswith("SNS may have accepted the request but its answer was lost")
    assert "sms.sent" not in kinds_of(welcome)


def test_given_end_user_messaging_accepts_and_the_answer_is_lost_when_retried_then_it_is_not_sent_again(
        welcome, lambda_context):
    event = task_event("send_sms.json", welcome, settings={"provider": "end_user_messaging", "from": "+18885550100",
                                                           "text": "Hi {{ contact.first_name }}"})
    client = aws_clients.client("pinpoint-sms-voice-v2")

    # moto lacks End User Messaging: the Stubber answers as the service would, once
    with Stubber(client) as eum, hooked("pinpoint-sms-voice-v2", "after-call.pinpoint-sms-voice-v2.SendTextMessage",
                                        answer_lost):
        eum.add_response("send_text_message", {"MessageId": "eum-1"})
        first = sms_app.lambda_handler(event, lambda_context)
        eum.assert_no_pending_responses()
    # a retry of the same visit (its idempotency record gone) finds the marker: no second send
    _forget_idempotency()
    with Stubber(client) as eum:
        again = sms_app.lambda_handler(event, lambda_context)
        eum.assert_no_pending_responses()

    assert first["outcome"] == again["outcome"] == "unknown"
    assert "End User Messaging SMS may have accepted the request" in first["reason"]


def _forget_idempotency() -> None:
    """Powertools' records gone (expired): only the effect markers stand between a retry and a resend."""
    from automaps import config

    db = aws_clients.client("dynamodb")
    for item in db.scan(TableName=config.idempotency_table())["Items"]:
        db.delete_item(TableName=config.idempotency_table(), Key={"id": item["id"]})


def test_given_the_idempotency_record_expired_when_a_sent_email_is_run_again_then_the_marker_stops_a_resend(
        welcome, lambda_context):
    event = task_event("send_email.json", welcome)

    first = email_app.lambda_handler(event, lambda_context)
    _forget_idempotency()
    again = email_app.lambda_handler(event, lambda_context)

    assert first["outcome"] == again["outcome"] == "done"
    assert again["detail"]["message_id"] == first["detail"]["message_id"]
    assert len(sent_emails()) == 1 and len(history(welcome, "email.sent")) == 1


# ------------------------------------------------------------------ webhooks


@pytest.fixture
def receiver(aws, monkeypatch):
    """GIVEN a webhook receiver on 127.0.0.1, which the deployment allows."""
    monkeypatch.setenv("WEBHOOK_ALLOWED_NETWORKS", "127.0.0.1/32")
    with serving(Receiver()) as fake:
        yield fake


def webhook_event(contact, url: str, **settings) -> dict:
    return task_event("send_webhook.json", contact, settings={"url": url, "json": {"id": "{{ contact.id }}"},
                                                               **settings})


def test_given_a_receiver_that_takes_the_webhook_but_answers_too_late_when_run_twice_then_one_delivery_and_unknown(
        welcome, receiver, lambda_context):
    receiver.slow_next("POST", "/hooks", delay=1.0)
    event = webhook_event(welcome, f"{receiver.url}/hooks", timeout_seconds=0.3)

    first = webhook_app.lambda_handler(event, lambda_context)
    _forget_idempotency()
    again = webhook_app.lambda_handler(event, lambda_context)

    assert len(receiver.requests("POST")) == 1
    assert first["outcome"] == again["outcome"] == "unknown"
    assert "may have accepted the POST but its answer was lost" in first["reason"]


def test_given_a_slow_drip_receiver_when_the_webhook_has_a_2s_timeout_then_the_call_ends_within_it(
        welcome, receiver, lambda_context):
    receiver.slow_next("POST", "/drip", drip=0.8)  # {"ok": true}: 12 bytes, one every 0.8 s (about 9 s)
    event = webhook_event(welcome, f"{receiver.url}/drip", timeout_seconds=2)

    started = time.monotonic()
    result = webhook_app.lambda_handler(event, lambda_context)
    took = time.monotonic() - started

    assert took < 3.0
    assert result["outcome"] == "unknown"


def test_given_a_redirect_to_another_origin_when_the_webhook_follows_it_then_custom_headers_stay_behind(
        welcome, receiver, lambda_context):
    with serving(Receiver()) as other:
        receiver.fail_next("POST", "/moved", 307, {}, headers={"Location": f"{other.url}/new"})
        event = webhook_event(welcome, f"{receiver.url}/moved",
                              headers={"X-Api-Key": "k-123", "Authorization": "Bearer t"})
        result = webhook_app.lambda_handler(event, lambda_context)

        assert result["outcome"] == "done"
        [first] = receiver.requests("POST")
        [followed] = other.requests("POST")
    assert first.header("X-Api-Key") == "k-123"
    assert followed.header("X-Api-Key") is None and followed.header("Authorization") is None
    assert followed.header("X-Automaps-Delivery") == first.header("X-Automaps-Delivery")


# ------------------------------------------------------------------ Stripe


@pytest.fixture
def stripe(aws, clock):
    with stripe_account() as fake:
        yield fake


def test_given_a_stripe_cancellation_whose_answer_is_lost_when_retried_then_it_is_recorded_as_cancelled_once(
        stripe, lambda_context, monkeypatch):
    from automaps.providers import http
    from automaps.journeys.steps import TransientError

    jane = a_contact(first_name="Jane")
    subscription = stripe.subscription(stripe.customer("jane.doe@example.com"))
    stripe.slow_next("DELETE", f"/v1/subscriptions/{subscription}", delay=1.0)
    monkeypatch.setattr(http, "READ_TIMEOUT", 0.3)
    event = task_event("cancel_open_orders.json", jane)

    # WHEN Stripe cancels but its answer does not come in time, and the state's Retry runs the step
    with pytest.raises(TransientError):
        cancel_app.lambda_handler(event, lambda_context)
    retried = cancel_app.lambda_handler(event, lambda_context)

    # THEN the retry repeated the DELETE with the same Idempotency-Key: Stripe replayed its answer
    deletes = stripe.requests("DELETE")
    assert len(deletes) == 2 and len({d.header("Idempotency-Key") for d in deletes}) == 1
    assert stripe.cancellations == [subscription]
    assert retried["outcome"] == "done"
    [cancelled] = history(jane, "orders.cancelled")
    assert cancelled.detail["cancelled"] == [subscription]
    assert "step.skipped" not in kinds_of(jane)


def test_given_a_plain_http_address_outside_loopback_when_a_provider_is_called_then_it_is_refused(aws):
    from automaps.providers.http import JsonClient
    from automaps.journeys.steps import PermanentError

    with pytest.raises(PermanentError, match="not https"):
        JsonClient("Stripe", "http://api.stripe.com", {"Authorization": "Bearer sk_test"})
    assert JsonClient("Stripe", "http://127.0.0.1:8080").base_url == "http://127.0.0.1:8080"


# ------------------------------------------------------------------ a journey on the local runtime


@pytest.fixture
def runtime():
    """GIVEN the backend from template.yaml on the local runtime, on a virtual clock (tests/e2e)."""
    from automaps_local.clock import VirtualClock
    from automaps_local.runtime import LocalRuntime

    from tests.conftest import ROOT
    from tests.e2e.conftest import START

    with LocalRuntime(ROOT / "template.yaml", clock=VirtualClock(START, auto_advance=False),
                      environment={"POWERTOOLS_METRICS_DISABLED": "true"}) as running:
        yield running


def test_given_the_welcome_emails_answer_is_lost_when_the_journey_runs_then_one_email_and_the_journey_goes_on(runtime):
    import json as json_lib

    from automaps_local.http import LocalApi
    from automaps_local.serve import push_content
    from werkzeug.test import Client

    push_content(runtime)
    api = Client(LocalApi(runtime))
    body = json_lib.loads(load_event("form_post_json.json")["body"])
    with hooked("sesv2", SES_SEND, _first_only(answer_lost)):
        api.post("/forms/newsletter", data=json_lib.dumps(body), headers={"Content-Type": "application/json"})
        runtime.run_until_settled(until=timedelta(days=3))
    runtime.run_until_settled()

    contact = runtime.contact(email="jane.doe@example.com")
    steps = {h["step_id"]: h["kind"] for h in contact["history"] if h["kind"].startswith("step.")}
    assert steps["welcome-email"] == "step.outcome_unknown"
    welcome_emails = [e for e in runtime.outbox()["emails"] if e["subject"].startswith("Welcome")]
    assert len(welcome_emails) == 1
    assert [e["status"] for e in runtime.executions("welcome-leads")] == ["SUCCEEDED"]
    assert "nudge-email" in steps  # the journey went on past the welcome email


def _first_only(hook):
    calls = []

    def once(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            hook(**kwargs)
    return once
