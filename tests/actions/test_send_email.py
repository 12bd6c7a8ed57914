"""send_email: a stored template, rendered for the contact, sent once through SES, with one-click
unsubscribe on marketing mail; and every reason not to send is recorded."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from botocore.stub import Stubber
from pydantic import ValidationError

from automaps import aws as aws_clients
from automaps.actions.send_email import Settings
from automaps.channels.tracking import read_unsubscribe
from automaps.store.contacts import ContactStore
from automaps.journeys.steps import TransientError
from functions.send_email import app
from tests.actions.sending import a_contact, enrolled, history, shipped_template, task_event
from tests.outbox import sent_emails


@pytest.fixture
def welcome(aws, clock):
    """GIVEN the welcome template is stored."""
    shipped_template("welcome")


def send(event: dict, lambda_context) -> dict:
    return app.lambda_handler(event, lambda_context)


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["t"][0]


# ------------------------------------------------------------------ sending

def test_given_a_contact_when_the_welcome_email_runs_then_it_is_sent_with_merge_fields(welcome, lambda_context):
    jane = a_contact(first_name="Jane")

    result = send(task_event("send_email.json", jane), lambda_context)

    assert result == {"outcome": "done", "reason": None, "step_id": "welcome-email",
                      "detail": result["detail"]}
    [sent] = sent_emails()
    assert sent.recipients == ["jane.doe@example.com"]
    assert sent.subject == "Welcome aboard, Jane!"
    assert "Welcome, Jane!" in sent.html and "Welcome, Jane!" in sent.text
    assert "{{" not in sent.html + sent.text


def test_given_marketing_mail_when_sent_then_it_carries_one_click_unsubscribe_for_this_contact(welcome,
                                                                                              lambda_context):
    jane = a_contact(first_name="Jane")

    send(task_event("send_email.json", jane), lambda_context)

    [sent] = sent_emails()
    header = sent.header("List-Unsubscribe")
    assert header.startswith("<http://localhost:3000/unsubscribe?t=") and header.endswith(">")
    assert sent.header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    url = header[1:-1]
    assert read_unsubscribe(token_of(url)).contact_id == jane.id
    assert f'href="{url}"' in sent.html and url in sent.text


def test_given_a_sent_email_when_the_history_is_read_then_it_names_message_and_template_but_masks_the_address(
        welcome, lambda_context, capsys):
    jane = a_contact(first_name="Jane")

    send(task_event("send_email.json", jane), lambda_context)

    [entry] = history(jane, "email.sent")
    [sent] = sent_emails()
    assert entry.detail == {"message_id": sent.id, "template": "welcome", "to": "j***@example.com",
                            "marketing": True, "connection": "default"}
    assert (entry.map_id, entry.step_id) == ("welcome-leads", "welcome-email")
    assert [e.kind for e in history(jane, "step.done")] == ["step.done"]
    assert "jane.doe@example.com" not in capsys.readouterr().out


def test_given_a_transactional_template_when_sent_then_it_has_no_unsubscribe_header_or_link(aws, clock,
                                                                                           lambda_context):
    shipped_template("cancellation")
    jane = a_contact(first_name="Jane")

    send(task_event("send_email.json", jane, settings={"template": "cancellation"}), lambda_context)

    [sent] = sent_emails()
    assert sent.header("List-Unsubscribe") is None
    assert "unsubscribe" not in sent.html.lower() and "unsubscribe" not in sent.text.lower()


def test_given_a_template_without_text_when_sent_then_the_text_part_is_derived_from_the_html(aws, clock,
                                                                                            lambda_context):
    shipped_template("nudge")
    jane = a_contact(first_name="Jane")

    send(task_event("send_email.json", jane, settings={"template": "nudge"}), lambda_context)

    [sent] = sent_emails()
    assert sent.text.startswith("Hi Jane,\n\nA few days ago")
    assert "Getting started in 15 minutes (https://example.com/guides/getting-started)" in sent.text
    assert "<p>" not in sent.text


def test_given_the_enrollment_carried_an_offer_when_the_nudge_is_sent_then_the_offer_code_is_used(
        aws, clock, lambda_context):
    shipped_template("nudge")
    jane = a_contact(first_name="Jane")
    event = task_event("send_email.json", jane, settings={"template": "nudge"})
    enrolled(jane, event, {"type": "form_submitted", "form": "newsletter", "offer": {"code": "SPRING25"}})

    send(event, lambda_context)

    [sent] = sent_emails()
    assert "<strong>SPRING25</strong>" in sent.html


def test_given_a_subject_override_and_a_to_expression_when_sent_then_both_are_rendered(welcome, lambda_context):
    jane = a_contact(first_name="Jane", work_email="jane@work.example")
    settings = {"template": "welcome", "subject": "{{ contact.first_name }}, one more thing",
                "to": "{{ contact.work_email }}"}

    send(task_event("send_email.json", jane, settings=settings), lambda_context)

    [sent] = sent_emails()
    assert (sent.recipients, sent.subject) == (["jane@work.example"], "Jane, one more thing")


def test_given_contact_data_with_markup_when_sent_then_the_html_escapes_it(welcome, lambda_context):
    jane = a_contact(first_name="<img src=x onerror=alert(1)>")

    send(task_event("send_email.json", jane), lambda_context)

    [sent] = sent_emails()
    assert "<img" not in sent.html and "&lt;img src=x onerror=alert(1)&gt;" in sent.html


# ------------------------------------------------------------------ reasons not to send

def test_given_an_unsubscribed_contact_when_marketing_mail_runs_then_it_is_skipped_and_nothing_is_sent(
        welcome, lambda_context):
    jane = a_contact(first_name="Jane")
    ContactStore().set_unsubscribed(jane.id, "email")

    result = send(task_event("send_email.json", jane), lambda_context)

    assert (result["outcome"], result["reason"]) == ("skipped", "the contact unsubscribed from email")
    assert sent_emails() == []
    [skipped] = history(jane, "step.skipped")
    assert skipped.detail["reason"] == "the contact unsubscribed from email"


def test_given_an_unsubscribed_contact_when_a_transactional_email_runs_then_it_is_still_sent(aws, clock,
                                                                                            lambda_context):
    shipped_template("cancellation")
    jane = a_contact(first_name="Jane")
    ContactStore().set_unsubscribed(jane.id, "email")

    result = send(task_event("send_email.json", jane, settings={"template": "cancellation"}), lambda_context)

    assert result["outcome"] == "done" and len(sent_emails()) == 1


def test_given_a_contact_without_email_when_the_email_runs_then_it_is_skipped_and_recorded(welcome,
                                                                                          lambda_context):
    sam = a_contact(email=None, first_name="Sam", phone="+14155550123")

    result = send(task_event("send_email.json", sam), lambda_context)

    assert (result["outcome"], result["reason"]) == ("skipped", "the contact has no email address")
    assert sent_emails() == []
    assert [e.kind for e in history(sam)] == ["step.skipped"]


def test_given_a_missing_merge_field_when_the_policy_is_skip_then_the_step_is_skipped_naming_it(
        aws, clock, lambda_context):
    shipped_template("webinar-confirmation")
    jane = a_contact(first_name="Jane")

    result = send(task_event("send_email.json", jane, settings={"template": "webinar-confirmation"}),
                  lambda_context)

    assert (result["outcome"], result["reason"]) == ("skipped", "missing field: contact.webinar_at")
    assert sent_emails() == []
    assert history(jane, "email.sent") == []


def test_given_a_missing_merge_field_when_the_policy_is_fail_then_the_step_fails_naming_it(
        aws, clock, lambda_context):
    shipped_template("webinar-confirmation")
    jane = a_contact(first_name="Jane")
    event = task_event("send_email.json", jane, settings={"template": "webinar-confirmation"},
                       missing_fields="fail")

    result = send(event, lambda_context)

    assert (result["outcome"], result["reason"]) == ("failed", "missing field: contact.webinar_at")
    assert sent_emails() == []


def test_given_an_unknown_template_when_the_email_runs_then_the_step_fails_naming_it(aws, clock,
                                                                                    lambda_context):
    jane = a_contact(first_name="Jane")

    result = send(task_event("send_email.json", jane, settings={"template": "spring-sale"}), lambda_context)

    assert result["outcome"] == "failed" and "'spring-sale'" in result["reason"]


def test_given_an_invalid_address_in_the_to_expression_when_sent_then_the_step_fails_without_the_address(
        welcome, lambda_context):
    jane = a_contact(first_name="Jane", work_email="jane.at.work")

    result = send(task_event("send_email.json", jane, settings={"template": "welcome",
                                                                "to": "{{ contact.work_email }}"}),
                  lambda_context)

    assert result["outcome"] == "failed" and "not a valid email address" in result["reason"]
    assert "jane.at.work" not in result["reason"]


def test_given_a_connection_name_that_cannot_name_a_file_when_settings_are_validated_then_the_map_is_refused():
    with pytest.raises(ValidationError, match="must be 'default' \\(Amazon SES\\) or the name of an SMTP connection"):
        Settings(template="welcome", connection="../office")
    assert Settings(template="welcome").connection == "default"
    assert Settings(template="welcome", connection="office-smtp").connection == "office-smtp"


@pytest.mark.parametrize("settings, message", [
    ({}, "give either 'template: <name>' \\(a stored template\\) or an inline 'subject' with 'html' and/or 'text'"),
    ({"template": "welcome", "html": "<p>Hi</p>"}, "not both: drop 'template' or drop 'html'/'text'"),
    ({"html": "<p>Hi</p>"}, "an inline email needs a 'subject'"),
    ({"subject": "Hi"}, "give either 'template: <name>'"),
])
def test_given_neither_or_both_ways_of_writing_the_email_when_validated_then_the_message_says_which(settings,
                                                                                                  message):
    with pytest.raises(ValidationError, match=message):
        Settings(**settings)


# ------------------------------------------------------------------ an inline email

def test_given_an_inline_subject_and_html_when_sent_then_both_are_rendered_and_unsubscribe_is_added(
        aws, clock, lambda_context):
    jane = a_contact(first_name="Jane")
    settings = {"subject": "Hi {{ contact.first_name }}", "html": "<p>Hello {{ contact.first_name }}</p>"}

    result = send(task_event("send_email.json", jane, settings=settings), lambda_context)

    assert result["outcome"] == "done"
    [sent] = sent_emails()
    assert sent.subject == "Hi Jane"
    assert "<p>Hello Jane</p>" in sent.html and sent.text.startswith("Hello Jane")
    assert sent.header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    [entry] = history(jane, "email.sent")
    assert (entry.detail["template"], entry.detail["connection"]) == ("inline", "default")


def test_given_an_inline_text_only_email_when_sent_then_the_html_part_is_the_escaped_text(
        aws, clock, lambda_context):
    jane = a_contact(first_name="<b>Jane</b>")
    settings = {"subject": "A note", "text": "Hi {{ contact.first_name }},\nsee you soon", "marketing": False}

    send(task_event("send_email.json", jane, settings=settings), lambda_context)

    [sent] = sent_emails()
    assert sent.text.rstrip() == "Hi <b>Jane</b>,\nsee you soon"
    assert "Hi &lt;b&gt;Jane&lt;/b&gt;,<br>" in sent.html and "<b>Jane" not in sent.html
    assert sent.header("List-Unsubscribe") is None


def test_given_an_inline_email_with_a_missing_field_when_sent_then_it_is_skipped_naming_it(
        aws, clock, lambda_context):
    jane = a_contact()
    settings = {"subject": "Hi {{ contact.first_name }}", "text": "Hello"}

    result = send(task_event("send_email.json", jane, settings=settings), lambda_context)

    assert (result["outcome"], result["reason"]) == ("skipped", "missing field: contact.first_name")
    assert sent_emails() == []


# ------------------------------------------------------------------ retries and idempotency

def test_given_the_same_task_event_twice_when_run_then_one_email_is_sent(welcome, lambda_context):
    jane = a_contact(first_name="Jane")
    event = task_event("send_email.json", jane)

    first = send(event, lambda_context)
    second = send(event, lambda_context)

    assert first == second
    assert len(sent_emails()) == 1
    assert len(history(jane, "email.sent")) == 1


def test_given_a_later_visit_of_the_same_state_when_run_then_it_sends_again(welcome, lambda_context):
    jane = a_contact(first_name="Jane")

    send(task_event("send_email.json", jane), lambda_context)
    send(task_event("send_email.json", jane, state_entered_time="2026-11-09T08:00:00.000Z"), lambda_context)

    assert len(sent_emails()) == 2


def test_given_ses_throttles_when_the_email_runs_then_it_raises_transient_and_the_retry_sends_once(
        welcome, lambda_context):
    jane = a_contact(first_name="Jane")
    event = task_event("send_email.json", jane)

    with Stubber(aws_clients.client("sesv2")) as ses:
        ses.add_client_error("send_email", service_error_code="TooManyRequestsException", http_status_code=429)
        with pytest.raises(TransientError):
            send(event, lambda_context)
    assert sent_emails() == []

    assert send(event, lambda_context)["outcome"] == "done"
    assert len(sent_emails()) == 1
