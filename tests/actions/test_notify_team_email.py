"""notify_team_email: staff and partners get an email about the contact, rendered with its data,
one message each, sent once per visit of the step even when a retry follows a partial send."""

from __future__ import annotations

import pytest
from botocore.stub import ANY, Stubber
from pydantic import ValidationError

from automaps import aws as aws_clients
from automaps.actions.notify_team_email import Settings
from automaps.store.contacts import ContactStore
from automaps.journeys.steps import TransientError
from functions.notify_team_email import app
from tests.actions.sending import a_contact, enrolled, history, task_event
from tests.outbox import sent_emails

FIXTURE = "notify_team_email.json"


@pytest.fixture
def ready(aws, clock):
    """GIVEN the stack is up and the clock stands still."""


def notify(event: dict, lambda_context) -> dict:
    return app.lambda_handler(event, lambda_context)


def ses_send_ok(message_id: str = "stubbed-0001") -> tuple[str, dict, dict]:
    return "send_email", {"MessageId": message_id}, {"FromEmailAddress": ANY, "Content": ANY,
                                                     "ConfigurationSetName": "automaps-EmailConfigurationSet"}


def test_given_a_new_lead_when_the_team_is_notified_then_each_recipient_gets_the_rendered_email(ready, lambda_context):
    jane = a_contact(first_name="Jane")
    event = task_event(FIXTURE, jane)
    enrolled(jane, event, {"type": "form_submitted", "form": "newsletter", "fields": {"plan": "pro"}})

    result = notify(event, lambda_context)

    assert result["outcome"] == "done"
    emails = sent_emails()
    assert sorted(r for e in emails for r in e.recipients) == ["sales@example.com", "sam@shipping.example.net"]
    for sent in emails:
        assert sent.subject == "New lead: Jane"
        assert sent.text.strip() == "Jane (jane.doe@example.com) signed up. Plan: pro"
        assert "Jane" in sent.html and "<p>" in sent.html
        assert sent.header("Reply-To") == "jane.doe@example.com"


def test_given_an_internal_notification_then_it_has_no_unsubscribe_link_and_ignores_the_contacts_opt_out(
        ready, lambda_context):
    jane = a_contact(first_name="Jane")
    ContactStore().set_unsubscribed(jane.id, "email")

    notify(task_event(FIXTURE, jane), lambda_context)

    emails = sent_emails()
    assert len(emails) == 2
    for sent in emails:
        assert sent.header("List-Unsubscribe") is None
        assert "nsubscribe" not in sent.text and "nsubscribe" not in sent.html


def test_given_a_notification_when_the_history_is_read_then_each_recipient_is_recorded_masked(
        ready, lambda_context, capsys):
    jane = a_contact(first_name="Jane")

    notify(task_event(FIXTURE, jane), lambda_context)

    entries = history(jane, "team.notified")
    assert sorted(e.detail["to"] for e in entries) == ["s***@example.com", "s***@shipping.example.net"]
    assert {e.detail["message_id"] for e in entries} == {s.id for s in sent_emails()}
    assert {e.detail["channel"] for e in entries} == {"email"}
    assert [e.detail.get("name") for e in entries if e.detail["to"].endswith("shipping.example.net")] == ["Sam (shipping)"]
    assert all((e.map_id, e.step_id) == ("welcome-leads", "tell-sales") for e in entries)
    assert "sales@example.com" not in capsys.readouterr().out


def test_given_html_with_contact_data_when_sent_then_the_values_are_escaped(ready, lambda_context):
    jane = a_contact(first_name="<b>Jane</b>")
    event = task_event(FIXTURE, jane, settings={"to": ["ops@example.com"], "subject": "Lead",
                                                "html": "<p>Call {{ contact.first_name }}</p>"})

    notify(event, lambda_context)

    [sent] = sent_emails()
    assert "&lt;b&gt;Jane&lt;/b&gt;" in sent.html and "<b>Jane</b>" in sent.text


def test_given_a_missing_merge_field_when_notified_then_the_step_is_skipped_and_nothing_is_sent(
        ready, lambda_context):
    jane = a_contact()  # no first_name

    result = notify(task_event(FIXTURE, jane), lambda_context)

    assert (result["outcome"], result["reason"]) == ("skipped", "missing field: contact.first_name")
    assert sent_emails() == []
    assert history(jane, "team.notified") == []


def test_given_the_same_task_event_twice_when_run_then_each_recipient_gets_one_email(ready, lambda_context):
    jane = a_contact(first_name="Jane")
    event = task_event(FIXTURE, jane)

    first, second = notify(event, lambda_context), notify(event, lambda_context)

    assert first == second
    assert len(sent_emails()) == 2
    assert len(history(jane, "team.notified")) == 2


def test_given_ses_throttles_the_second_recipient_when_retried_then_only_that_one_is_sent_again(
        ready, lambda_context):
    jane = a_contact(first_name="Jane")
    event = task_event(FIXTURE, jane)

    with Stubber(aws_clients.client("sesv2")) as ses:
        ses.add_response(*ses_send_ok())
        ses.add_client_error("send_email", service_error_code="TooManyRequestsException", http_status_code=429)
        with pytest.raises(TransientError):
            notify(event, lambda_context)

    assert notify(event, lambda_context)["outcome"] == "done"
    assert [e.recipients for e in sent_emails()] == [["sam@shipping.example.net"]]  # sales@ got the stubbed one
    assert sorted(e.detail["message_id"] == "stubbed-0001" for e in history(jane, "team.notified")) == [False, True]


def test_given_ses_rejects_one_recipient_then_the_others_are_notified_and_the_refusal_is_recorded(
        ready, lambda_context):
    jane = a_contact(first_name="Jane")

    with Stubber(aws_clients.client("sesv2")) as ses:
        ses.add_client_error("send_email", service_error_code="MessageRejected", http_status_code=400,
                             service_message="Email address is not verified: sales@example.com")
        ses.add_response(*ses_send_ok())
        result = notify(task_event(FIXTURE, jane), lambda_context)

    assert result["outcome"] == "done"
    [done] = history(jane, "step.done")
    assert done.detail["refused"] == [{"to": "s***@example.com",
                                       "reason": "SES rejected the message (MessageRejected): "
                                                 "Email address is not verified: s***@example.com"}]
    assert len(history(jane, "team.notified")) == 1


def test_given_ses_rejects_every_recipient_then_the_step_fails_without_retry(ready, lambda_context):
    jane = a_contact(first_name="Jane")
    event = task_event(FIXTURE, jane, settings={"to": ["ops@example.com"], "subject": "x", "text": "y"})

    with Stubber(aws_clients.client("sesv2")) as ses:
        ses.add_client_error("send_email", service_error_code="AccountSuspendedException", http_status_code=400)
        result = notify(event, lambda_context)

    assert result["outcome"] == "failed" and "may no longer send email" in result["reason"]
    assert history(jane, "team.notified") == []


def test_given_ses_fails_with_a_5xx_then_the_step_raises_transient(ready, lambda_context):
    jane = a_contact(first_name="Jane")

    with Stubber(aws_clients.client("sesv2")) as ses:
        ses.add_client_error("send_email", service_error_code="InternalFailure", http_status_code=500)
        with pytest.raises(TransientError):
            notify(task_event(FIXTURE, jane), lambda_context)


@pytest.mark.parametrize(("settings", "message"), [
    ({"to": [], "subject": "s", "text": "t"}, "at least 1 item"),
    ({"to": ["not an address"], "subject": "s", "text": "t"}, "is not an email address"),
    ({"to": ["a@example.com", "A@example.com"], "subject": "s", "text": "t"}, "appears twice"),
    ({"to": ["a@example.com"], "subject": "s"}, "needs a body"),
    ({"to": ["a@example.com"], "subject": "s", "text": "t", "cc": "x"}, "Extra inputs"),
])
def test_given_bad_settings_when_validated_then_they_are_refused_saying_what_to_change(settings, message):
    with pytest.raises(ValidationError, match=message):
        Settings.model_validate(settings)


def test_given_a_single_address_string_then_it_is_one_recipient():
    assert [r.address for r in Settings.model_validate({"to": "ops@example.com", "subject": "s",
                                                        "text": "t"}).to] == ["ops@example.com"]
