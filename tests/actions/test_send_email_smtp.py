"""send_email through an SMTP connection: a real SMTP server (aiosmtpd on 127.0.0.1) receives the
mail over plain SMTP, STARTTLS or TLS, with the password read from Secrets Manager; 4xx replies
and unreachable servers retry, 5xx replies and bad logins are recorded failures."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from automaps import aws as aws_clients
from automaps.store import connections
from automaps.channels.smtp import SmtpConnection
from automaps.store.content import ContentStore
from automaps.journeys.steps import TransientError
from functions.send_email import app
from tests.actions.sending import a_contact, history, shipped_template, task_event
from tests.outbox import sent_emails
from tests.smtp_server import PASSWORD, USERNAME, SmtpServer, free_port


@pytest.fixture
def welcome(aws, clock):
    """GIVEN the welcome template is stored."""
    shipped_template("welcome")


def a_connection(name: str, body: dict) -> None:
    """GIVEN content/connections/<name>.yaml was pushed (validated as `automaps push` does)."""
    ContentStore().put("CONNECTION", name, connections.validate(body).model_dump(mode="json"))


def a_password_secret(value: str) -> str:
    """GIVEN the SMTP password is kept in Secrets Manager; returns the secret's ARN."""
    return aws_clients.client("secretsmanager").create_secret(
        Name="automaps/connections/office", SecretString=value)["ARN"]


def send(event: dict, lambda_context) -> dict:
    return app.lambda_handler(event, lambda_context)


def by_smtp(contact, connection: str = "office", **settings) -> dict:
    return task_event("send_email.json", contact, settings={"template": "welcome", "connection": connection,
                                                             **settings})


# ------------------------------------------------------------------ sending

def test_given_a_plain_smtp_connection_when_the_email_runs_then_the_server_receives_it_with_unsubscribe_headers(
        welcome, lambda_context, tmp_path):
    jane = a_contact(first_name="Jane")
    with SmtpServer(tmp_path) as server:
        a_connection("office", server.connection())

        result = send(by_smtp(jane), lambda_context)

    assert result["outcome"] == "done"
    assert sent_emails() == []  # not through SES
    [mail] = server.received
    assert (mail.sender, mail.recipients) == ("news@shop.example", ["jane.doe@example.com"])
    assert mail.header("From") == "Example Shop <news@shop.example>"
    assert mail.header("Subject") == "Welcome aboard, Jane!"
    assert "Welcome, Jane!" in mail.html and "Welcome, Jane!" in mail.text
    assert mail.header("List-Unsubscribe").startswith("<http://localhost:3000/unsubscribe?t=")
    assert mail.header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    [entry] = history(jane, "email.sent")
    assert entry.detail == {"message_id": mail.header("Message-ID").strip("<>"), "template": "welcome",
                            "to": "j***@example.com", "marketing": True, "connection": "office"}
    assert entry.detail["message_id"].endswith("@shop.example")


def test_given_starttls_and_a_login_when_the_email_runs_then_it_is_sent_encrypted_with_the_secret_password(
        welcome, lambda_context, tmp_path):
    jane = a_contact(first_name="Jane")
    secret = a_password_secret(json.dumps({"password": PASSWORD}))
    with SmtpServer(tmp_path, security="starttls", login=True) as server:
        a_connection("office", server.connection(username=USERNAME, secret_arn=secret))

        result = send(by_smtp(jane), lambda_context)

    assert result["outcome"] == "done"
    [mail] = server.received
    assert (mail.secure, mail.login) == (True, USERNAME)


def test_given_implicit_tls_and_a_plain_text_secret_when_the_email_runs_then_it_is_sent(
        welcome, lambda_context, tmp_path):
    jane = a_contact(first_name="Jane")
    secret = a_password_secret(PASSWORD)
    with SmtpServer(tmp_path, security="tls", login=True) as server:
        a_connection("office", server.connection(username=USERNAME, secret_arn=secret))

        result = send(by_smtp(jane), lambda_context)

    assert result["outcome"] == "done"
    [mail] = server.received
    assert (mail.secure, mail.login) == (True, USERNAME)


def test_given_an_inline_email_and_an_smtp_connection_when_sent_then_the_server_gets_the_inline_content(
        aws, clock, lambda_context, tmp_path):
    jane = a_contact(first_name="Jane")
    with SmtpServer(tmp_path) as server:
        a_connection("office", server.connection())

        send(task_event("send_email.json", jane, settings={
            "connection": "office", "subject": "Hi {{ contact.first_name }}", "text": "Your order shipped."}),
            lambda_context)

    [mail] = server.received
    assert mail.header("Subject") == "Hi Jane" and mail.text.startswith("Your order shipped.")


# ------------------------------------------------------------------ refusals

def test_given_a_server_without_starttls_when_the_connection_demands_it_then_the_step_fails_and_nothing_is_sent(
        welcome, lambda_context, tmp_path):
    jane = a_contact(first_name="Jane")
    with SmtpServer(tmp_path) as server:
        a_connection("office", server.connection(security="starttls"))

        result = send(by_smtp(jane), lambda_context)

    assert result["outcome"] == "failed"
    assert result["reason"] == ("SMTP server 127.0.0.1 does not offer STARTTLS; set security to tls or none "
                                "in the connection")
    assert server.received == [] and history(jane, "email.sent") == []


def test_given_a_certificate_the_connection_does_not_trust_when_sent_then_the_step_fails(
        welcome, lambda_context, tmp_path):
    jane = a_contact(first_name="Jane")
    with SmtpServer(tmp_path, security="starttls") as server:
        a_connection("office", server.connection(ca_certificate=None))

        result = send(by_smtp(jane), lambda_context)

    assert result["outcome"] == "failed" and "certificate not trusted" in result["reason"]
    assert server.received == []


def test_given_a_wrong_password_when_the_email_runs_then_the_step_fails_without_retry(
        welcome, lambda_context, tmp_path):
    jane = a_contact(first_name="Jane")
    secret = a_password_secret("not the password")
    with SmtpServer(tmp_path, security="starttls", login=True) as server:
        a_connection("office", server.connection(username=USERNAME, secret_arn=secret))

        result = send(by_smtp(jane), lambda_context)

    assert (result["outcome"], result["reason"]) == ("failed", "SMTP server 127.0.0.1 refused the login (535)")
    assert "not the password" not in json.dumps(result)


def test_given_the_server_refuses_the_recipient_with_550_when_sent_then_it_is_a_recorded_failure_masking_it(
        welcome, lambda_context, tmp_path):
    jane = a_contact(first_name="Jane")
    with SmtpServer(tmp_path) as server:
        server.handler.rcpt_reply = "550 5.1.1 <jane.doe@example.com>: no such user"
        a_connection("office", server.connection())

        result = send(by_smtp(jane), lambda_context)

    assert result["outcome"] == "failed"
    assert result["reason"] == ("SMTP server 127.0.0.1 refused the recipient "
                                "(550 5.1.1 <j***@example.com>: no such user)")
    [failed] = history(jane, "step.failed")
    assert "jane.doe" not in json.dumps(failed.detail)


def test_given_a_451_reply_when_the_email_runs_then_it_is_transient_and_the_retry_sends_once(
        welcome, lambda_context, tmp_path):
    jane = a_contact(first_name="Jane")
    event = by_smtp(jane)
    with SmtpServer(tmp_path) as server:
        a_connection("office", server.connection())
        server.handler.data_reply = "451 4.3.0 mailbox busy, try later"

        with pytest.raises(TransientError, match="451 4.3.0 mailbox busy"):
            send(event, lambda_context)
        server.handler.data_reply = None
        retried = send(event, lambda_context)
        again = send(event, lambda_context)

    assert retried["outcome"] == "done" and again == retried
    assert len(server.received) == 1
    assert len(history(jane, "email.sent")) == 1


def test_given_a_554_reply_to_the_data_when_sent_then_the_step_fails(welcome, lambda_context, tmp_path):
    jane = a_contact(first_name="Jane")
    with SmtpServer(tmp_path) as server:
        server.handler.data_reply = "554 5.7.1 message looks like spam"
        a_connection("office", server.connection())

        result = send(by_smtp(jane), lambda_context)

    assert (result["outcome"], result["reason"]) == (
        "failed", "SMTP server 127.0.0.1 refused the message (554 5.7.1 message looks like spam)")


def test_given_nothing_listens_on_the_port_when_the_email_runs_then_it_is_transient(welcome, lambda_context):
    jane = a_contact(first_name="Jane")
    a_connection("office", {"type": "smtp", "host": "127.0.0.1", "port": free_port(), "security": "none",
                            "from": "news@shop.example", "timeout_seconds": 2})

    with pytest.raises(TransientError, match="could not be reached: ConnectionRefusedError"):
        send(by_smtp(jane), lambda_context)


def test_given_a_connection_name_that_is_not_stored_when_the_email_runs_then_the_step_fails_naming_it(
        welcome, lambda_context):
    jane = a_contact(first_name="Jane")

    result = send(by_smtp(jane, connection="warehouse"), lambda_context)

    assert result["outcome"] == "failed"
    assert result["reason"] == "no connection named 'warehouse' (content/connections/warehouse.yaml)"


# ------------------------------------------------------------------ the connection's settings

@pytest.mark.parametrize("changes, message", [
    ({"username": "mailer"}, "give both username and secret_arn"),
    ({"username": "mailer", "secret_arn": "arn:aws:secretsmanager:us-east-1:1:secret:x"},
     "security 'none' would send the password unencrypted"),
    ({"from": "not an address"}, "'from' must be an email address"),
    ({"security": "ssl"}, "Input should be 'starttls', 'tls' or 'none'"),
    ({"port": 0}, "greater than or equal to 1"),
])
def test_given_a_bad_smtp_connection_when_validated_then_the_message_says_what_to_change(changes, message):
    body = {"type": "smtp", "host": "mail.example.com", "security": "none", "from": "news@shop.example", **changes}

    with pytest.raises(ValidationError, match=message):
        SmtpConnection.model_validate(body)


def test_given_a_good_smtp_connection_when_validated_then_defaults_are_starttls_on_587():
    connection = connections.validate({"type": "smtp", "host": "mail.example.com", "from": "news@shop.example"})

    assert (connection.port, connection.security) == (587, "starttls")


def test_given_the_password_secret_does_not_exist_when_the_email_runs_then_the_step_fails_saying_so(
        welcome, lambda_context, tmp_path):
    jane = a_contact(first_name="Jane")
    with SmtpServer(tmp_path, security="starttls", login=True) as server:
        a_connection("office", server.connection(
            username=USERNAME, secret_arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:automaps/gone-AbCdEf"))

        result = send(by_smtp(jane), lambda_context)

    assert (result["outcome"], result["reason"]) == (
        "failed", "the SMTP password cannot be read: the secret arn:aws:secretsmanager:us-east-1:123456789012:secret:automaps/gone-AbCdEf could not be read")
    assert server.received == []
