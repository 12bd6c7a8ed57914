"""`automaps test-email`: the email a send_email step would send, rendered for a sample or given
contact, sent to any address through SES or an SMTP connection, with no contact or enrollment."""

from __future__ import annotations

import json
import os

import pytest

from automaps import aws as aws_clients
from automaps.store import connections
from automaps.store.content import ContentStore
from automaps_local.cli import main
from tests.actions.sending import shipped_template
from tests.outbox import sent_emails
from tests.smtp_server import SmtpServer


@pytest.fixture
def welcome(aws, clock):
    """GIVEN the welcome template is stored."""
    shipped_template("welcome")


def contacts_in_table() -> list[dict]:
    return aws_clients.client("dynamodb").scan(TableName=os.environ["CONTACTS_TABLE"])["Items"]


def test_given_a_template_when_a_test_email_is_sent_then_ses_sends_it_to_that_address_marked_as_a_test(
        welcome, capsys):
    code = main(["test-email", "--template", "welcome", "--to", "me@example.com"])

    out = capsys.readouterr().out
    assert code == 0, out
    [sent] = sent_emails()
    assert sent.recipients == ["me@example.com"]
    assert sent.subject == "[Test] Welcome aboard, Jane!"
    assert sent.header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    assert f"test email {sent.id} sent to m***@example.com through connection 'default'" in out
    assert "me@example.com" not in out
    assert contacts_in_table() == []  # nobody was created or enrolled


def test_given_a_contact_file_and_an_smtp_connection_when_a_test_email_is_sent_then_the_server_gets_it(
        welcome, tmp_path, capsys):
    contact = tmp_path / "ada.json"
    contact.write_text(json.dumps({"first_name": "Ada", "tags": ["vip"]}))
    with SmtpServer(tmp_path) as server:
        ContentStore().put("CONNECTION", "office",
                           connections.validate(server.connection()).model_dump(mode="json"))

        code = main(["test-email", "--template", "welcome", "--to", "me@example.com",
                     "--contact", str(contact), "--connection", "office"])

    assert code == 0, capsys.readouterr().out
    [mail] = server.received
    assert mail.header("Subject") == "[Test] Welcome aboard, Ada!" and mail.recipients == ["me@example.com"]
    assert sent_emails() == []


def test_given_an_inline_email_when_a_test_email_is_sent_then_it_is_rendered_without_unsubscribe_if_transactional(
        aws, clock, capsys):
    code = main(["test-email", "--subject", "Hello {{ contact.first_name }}", "--text", "Your order shipped.",
                 "--to", "me@example.com", "--transactional"])

    assert code == 0, capsys.readouterr().out
    [sent] = sent_emails()
    assert sent.subject == "[Test] Hello Jane" and sent.header("List-Unsubscribe") is None


def test_given_a_template_needing_a_field_the_sample_lacks_when_tested_then_it_says_to_give_a_contact(
        aws, clock, capsys):
    shipped_template("webinar-confirmation")

    code = main(["test-email", "--template", "webinar-confirmation", "--to", "me@example.com"])

    assert code == 2
    assert "contact.webinar_at; give them in --contact" in capsys.readouterr().out
    assert sent_emails() == []


def test_given_neither_template_nor_inline_body_when_tested_then_it_explains_both_ways(aws, clock, capsys):
    code = main(["test-email", "--to", "me@example.com"])

    assert code == 2
    assert "give either 'template: <name>'" in capsys.readouterr().out


def test_given_an_unknown_template_when_tested_then_it_names_it_and_sends_nothing(aws, clock, capsys):
    code = main(["test-email", "--template", "spring-sale", "--to", "me@example.com"])

    assert code == 1 and "'spring-sale'" in capsys.readouterr().out
    assert sent_emails() == []

