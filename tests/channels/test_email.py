"""The SES v2 email channel: what goes out, with which headers, and how SES errors are classified."""

from __future__ import annotations

import os

import pytest
from botocore.stub import Stubber

from automaps import aws as aws_clients
from automaps.channels import email
from automaps.journeys.steps import PermanentError, TransientError
from tests.outbox import sent_emails

URL = "http://localhost:3000/unsubscribe?t=abc.def"


def send(**changes) -> str:
    message = {"to": "jane.doe@example.com", "subject": "Welcome, Jane", "html": "<p>Hi <b>Jane</b></p>",
               "text": "Hi Jane", "sender": os.environ["EMAIL_FROM"], "headers": None,
               "configuration_set": None}
    return email.send(**{**message, **changes})


def test_given_a_message_when_sent_then_ses_records_recipient_subject_and_both_bodies(aws, clock):
    message_id = send()

    [sent] = sent_emails()
    assert sent.id == message_id
    assert sent.recipients == ["jane.doe@example.com"]
    assert sent.sender == os.environ["EMAIL_FROM"]
    assert sent.subject == "Welcome, Jane"
    assert sent.html.strip() == "<p>Hi <b>Jane</b></p>"
    assert sent.text.strip() == "Hi Jane"
    assert sent.message["Date"].datetime == clock.now()


def test_given_unsubscribe_headers_when_sent_then_they_go_out_as_rfc_8058_asks(aws, clock):
    send(headers=email.unsubscribe_headers(URL))

    [sent] = sent_emails()
    assert sent.header("List-Unsubscribe") == f"<{URL}>"
    assert sent.header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"


def test_given_a_long_unsubscribe_url_when_sent_then_the_header_is_on_one_line_not_encoded(aws, clock):
    long_url = f"http://localhost:3000/unsubscribe?t={'a' * 180}.{'b' * 43}"

    send(headers=email.unsubscribe_headers(long_url))

    [sent] = sent_emails()
    assert f"List-Unsubscribe: <{long_url}>\r\n" in sent.raw


def test_given_a_header_value_with_a_line_break_when_sent_then_it_is_refused(aws, clock):
    with pytest.raises(ValueError, match="X-Campaign"):
        send(headers={"X-Campaign": "spring\r\nBcc: victim@example.org"})
    assert sent_emails() == []


def test_given_non_ascii_content_when_sent_then_it_arrives_intact(aws, clock):
    send(subject="Bienvenue, Zoë ✨", html="<p>Merci, Zoë — à bientôt</p>", text="Merci, Zoë — à bientôt")

    [sent] = sent_emails()
    assert sent.subject == "Bienvenue, Zoë ✨"
    assert "Zoë — à bientôt" in sent.html and "Zoë — à bientôt" in sent.text
    assert sent.raw.isascii()


def test_given_a_subject_with_line_breaks_from_merge_fields_when_sent_then_no_header_is_injected(aws, clock):
    send(subject="Hi Jane\r\nBcc: victim@example.org")

    [sent] = sent_emails()
    assert sent.subject == "Hi Jane Bcc: victim@example.org"
    assert sent.header("Bcc") is None
    assert sent.recipients == ["jane.doe@example.com"]


def test_given_an_invalid_address_when_sent_then_it_fails_permanently_without_the_address(aws, clock):
    with pytest.raises(PermanentError) as failure:
        send(to="jane.doe@@example")

    assert "jane.doe" not in str(failure.value)
    assert sent_emails() == []


def test_given_an_unverified_sender_when_sent_then_ses_rejects_it_permanently(aws, clock):
    with pytest.raises(PermanentError, match="MessageRejected") as failure:
        send(sender="someone@not-verified.example")

    assert "someone@" not in str(failure.value)
    assert sent_emails() == []


@pytest.mark.parametrize("code, status", [
    ("TooManyRequestsException", 429), ("LimitExceededException", 400), ("InternalFailure", 500),
    ("ServiceUnavailable", 503),
])
def test_given_ses_throttles_or_fails_when_sending_then_the_error_is_transient(aws, clock, code, status):
    with Stubber(aws_clients.client("sesv2")) as ses:
        ses.add_client_error("send_email", service_error_code=code, http_status_code=status)
        with pytest.raises(TransientError, match=code):
            send()


@pytest.mark.parametrize("code, reason", [
    ("AccountSuspendedException", "may no longer send"),
    ("MailFromDomainNotVerifiedException", "MAIL FROM"),
    ("MessageRejected", "rejected"),
])
def test_given_ses_refuses_for_good_when_sending_then_the_error_is_permanent_and_masked(aws, clock, code, reason):
    with Stubber(aws_clients.client("sesv2")) as ses:
        ses.add_client_error("send_email", service_error_code=code, http_status_code=400,
                             service_message="Address blacklisted: jane.doe@example.com")
        with pytest.raises(PermanentError, match=reason) as failure:
            send()

    assert "jane.doe@" not in str(failure.value) and "j***@example.com" in str(failure.value)


# ------------------------------------------------------------------ the visible link

def test_given_bodies_without_the_link_when_it_is_added_then_both_show_it():
    html, text = email.with_unsubscribe_link("<html><body><p>Hi</p></body></html>", "Hi\n", URL)

    assert html.endswith('<a href="http://localhost:3000/unsubscribe?t=abc.def">Unsubscribe</a>.</p></body></html>')
    assert text == f"Hi\n\n--\nUnsubscribe: {URL}\n"


def test_given_bodies_that_already_show_the_link_when_it_is_added_then_they_are_unchanged():
    html = f'<p>Hi</p><a href="{URL}">Leave</a>'
    text = f"Hi. Leave: {URL}"

    assert email.with_unsubscribe_link(html, text, URL) == (html, text)
