"""Bounces and complaints mark the address: a permanent bounce or a complaint suppresses it, and a
later send_email skips it with the reason, never sending. Transient bounces don't."""

from __future__ import annotations

import pytest

from automaps.store import connections
from automaps.store.contacts import ContactStore
from automaps.store.content import ContentStore
from functions.send_email import app as send_email
from tests.actions.sending import history, shipped_template, task_event
from tests.engagement.conftest import JANE, MESSAGE_ID, deliver, ses_event
from tests.outbox import sent_emails
from tests.smtp_server import SmtpServer


@pytest.fixture
def welcome(aws, clock):
    """GIVEN the welcome template is stored, and the clock stands a week after the events."""
    shipped_template("welcome")
    clock.advance(days=7)


def next_email(contact, lambda_context, state_entered_time: str = "2026-11-09T08:00:00.000Z", **settings) -> dict:
    """WHEN a later step emails the contact."""
    event = task_event("send_email.json", contact, step_id="nudge-email", state_name="nudge-email",
                       state_entered_time=state_entered_time, settings={"template": "welcome", **settings})
    return send_email.lambda_handler(event, lambda_context)


@pytest.mark.parametrize("fixture, reason, since", [
    ("ses_bounce_permanent", "bounced", "address bounced on 2026-11-02"),
    ("ses_complaint", "complained", "address complained on 2026-11-03"),
])
def test_given_a_permanent_bounce_or_a_complaint_when_a_later_step_emails_the_address_then_it_is_skipped_unsent(
        jane, store, welcome, lambda_context, fixture, reason, since):
    deliver(ses_event(fixture, jane), lambda_context)

    result = next_email(jane, lambda_context)

    assert store.email_suppression(JANE).reason == reason
    assert store.email_suppression(JANE).message_id == MESSAGE_ID
    assert (result["outcome"], result["reason"]) == ("skipped", since)
    assert sent_emails() == []
    [skipped] = history(jane, "step.skipped")
    assert (skipped.step_id, skipped.detail["reason"]) == ("nudge-email", since)
    assert skipped.detail["suppressed"] == reason and skipped.detail["to"] == "j***@example.com"
    assert history(jane, "email.sent") == []


def test_given_a_transient_bounce_then_the_address_is_not_suppressed_and_later_email_goes_out(
        jane, store, welcome, lambda_context):
    deliver(ses_event("ses_bounce_transient", jane), lambda_context)

    result = next_email(jane, lambda_context)

    assert store.email_suppression(JANE) is None
    assert result["outcome"] == "done" and len(sent_emails()) == 1


def test_given_a_complaint_the_recipient_withdrew_as_not_spam_then_the_address_is_not_suppressed(
        jane, store, welcome, lambda_context):
    event = ses_event("ses_complaint", jane)
    event["detail"]["complaint"]["complaintFeedbackType"] = "not-spam"

    deliver(event, lambda_context)

    assert store.email_suppression(JANE) is None
    assert next_email(jane, lambda_context)["outcome"] == "done"


def test_given_a_suppressed_address_then_the_mark_belongs_to_the_address_whatever_its_case_or_contact(
        jane, store, welcome, lambda_context):
    deliver(ses_event("ses_bounce_permanent", jane), lambda_context)
    other, _ = store.upsert_by_email("ops@example.com", {"first_name": "Ops"})

    to_jane_by_merge_field = next_email(other, lambda_context, to="Jane.Doe@Example.COM")

    assert to_jane_by_merge_field["outcome"] == "skipped" and sent_emails() == []
    assert store.email_suppression("JANE.DOE@example.com") is not None
    assert store.email_suppression("ops@example.com") is None


def test_given_a_bounce_then_a_complaint_then_the_first_reason_stays_and_each_is_on_the_history(
        jane, store, welcome, lambda_context):
    deliver(ses_event("ses_bounce_permanent", jane), lambda_context)
    deliver(ses_event("ses_complaint", jane), lambda_context)

    assert store.email_suppression(JANE).reason == "bounced"
    assert [e.kind for e in history(jane, "email.bounced", "email.complained")] == ["email.bounced", "email.complained"]


def test_given_a_suppressed_address_when_the_step_sends_through_smtp_then_the_server_receives_nothing(
        jane, store, welcome, lambda_context, tmp_path):
    deliver(ses_event("ses_complaint", jane), lambda_context)
    with SmtpServer(tmp_path) as server:
        ContentStore().put("CONNECTION", "office",
                           connections.validate(server.connection()).model_dump(mode="json"))

        result = next_email(jane, lambda_context, connection="office")

    assert result["outcome"] == "skipped" and server.received == []


def test_given_a_bounce_for_a_contact_since_deleted_then_the_address_is_still_suppressed(
        aws, clock, lambda_context):
    result = deliver(ses_event("ses_bounce_permanent", "c_gone"), lambda_context)

    assert result["recorded"] is False and result["suppressed"] == ["j***@example.com"]
    assert ContactStore().email_suppression(JANE).reason == "bounced"
