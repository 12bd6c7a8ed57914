"""Email engagement through SES: send_email tags the message, the configuration set's events come
back through EventBridge, and each is recorded once on the contact's history, at its own time,
against the step that sent the email."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
from moto.events.models import EventPattern

from automaps.channels import email
from automaps_local.template import Template
from functions.send_email import app as send_email
from tests.actions.sending import shipped_template, task_event
from tests.conftest import ROOT
from tests.engagement.conftest import MESSAGE_ID, deliver, engagement, ses_event
from tests.outbox import sent_emails


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


# ------------------------------------------------------------------ sending: the configuration set and tags

def test_given_an_email_step_when_it_sends_through_ses_then_the_message_carries_the_configuration_set_and_tags(
        jane, ses_requests, lambda_context):
    shipped_template("welcome")

    result = send_email.lambda_handler(task_event("send_email.json", jane), lambda_context)

    assert result["outcome"] == "done" and len(sent_emails()) == 1
    [request] = ses_requests
    assert request["ConfigurationSetName"] == os.environ["SES_CONFIGURATION_SET"] == "automaps-EmailConfigurationSet"
    assert {tag["Name"]: tag["Value"] for tag in request["EmailTags"]} == {
        "contact_id": jane.id, "map_id": "welcome-leads", "step_id": "welcome-email", "template": "welcome"}


@pytest.mark.parametrize("value", ["welcome", "spring-sale_2026", "Spring sale: 20% off!", "b64-looks-encoded",
                                   "bienvenue-été", "x" * 180])
def test_given_any_template_name_when_it_becomes_a_tag_then_it_is_in_ses_charset_and_reads_back(value):
    tag = email.tag_value(value)

    assert len(tag) <= 256 and all(ch.isascii() and (ch.isalnum() or ch in "_-") for ch in tag)
    assert email.read_tag_value(tag) == value
    assert (tag == value) == (value in ("welcome", "spring-sale_2026", "x" * 180))  # safe values travel as written


def test_given_a_template_name_outside_the_tag_charset_when_its_events_come_back_then_history_names_it_as_written(
        jane, store, lambda_context):
    event = ses_event("ses_open", jane, template=email.tag_value("Spring sale: 20% off!"))

    deliver(event, lambda_context)

    [opened] = engagement(store, jane)
    assert opened.detail["template"] == "Spring sale: 20% off!"


# ------------------------------------------------------------------ each event type

@pytest.mark.parametrize("fixture, kind, when, detail", [
    ("ses_delivery", "email.delivered", "2026-11-02T08:00:02.345Z", {}),
    ("ses_open", "email.opened", "2026-11-02T09:15:42.652Z", {}),
    ("ses_click", "email.clicked", "2026-11-02T09:16:05.570Z", {"url": "https://shop.example/welcome"}),
    ("ses_bounce_permanent", "email.bounced", "2026-11-02T08:00:03.669Z",
     {"bounce_type": "Permanent", "bounce_subtype": "General", "suppressed": True}),
    ("ses_bounce_transient", "email.bounced", "2026-11-02T08:30:03.669Z",
     {"bounce_type": "Transient", "bounce_subtype": "MailboxFull", "suppressed": False}),
    ("ses_complaint", "email.complained", "2026-11-03T10:02:11Z", {"feedback_type": "abuse", "suppressed": True}),
])
def test_given_an_ses_event_when_delivered_then_its_kind_is_recorded_at_its_time_against_the_sending_step(
        jane, store, lambda_context, fixture, kind, when, detail):
    result = deliver(ses_event(fixture, jane), lambda_context)

    assert result["recorded"] is True and result["kind"] == kind
    [entry] = engagement(store, jane)
    assert (entry.kind, entry.map_id, entry.step_id, entry.at) == (kind, "welcome-leads", "welcome-email", at(when))
    assert entry.detail == {"message_id": MESSAGE_ID, "template": "welcome", "connection": "default", **detail}
    assert store.last_event(jane.id, kind) == entry   # what conditions read


def test_given_a_click_with_a_query_when_recorded_then_the_url_keeps_no_query_fragment_or_personal_data(
        jane, store, lambda_context):
    event = ses_event("ses_click", jane)
    event["detail"]["click"]["link"] = "HTTPS://jane:secret@Shop.Example:8443/Offers/?email=jane.doe@example.com#x"

    deliver(event, lambda_context)

    [clicked] = engagement(store, jane)
    assert clicked.detail["url"] == "https://shop.example:8443/Offers/"
    assert "jane" not in str(clicked.detail)


# ------------------------------------------------------------------ at least once: recorded once

@pytest.mark.parametrize("fixture", ["ses_open", "ses_click", "ses_delivery", "ses_bounce_permanent", "ses_complaint"])
def test_given_an_event_delivered_twice_when_recorded_then_the_history_has_it_once(
        jane, store, lambda_context, fixture):
    event = ses_event(fixture, jane)

    first = deliver(event, lambda_context)
    again = deliver(event, lambda_context)

    assert first["recorded"] is True
    assert again == {**again, "recorded": False, "reason": "already recorded"}
    assert len(engagement(store, jane)) == 1


def test_given_ses_publishes_the_same_open_twice_under_two_eventbridge_ids_then_it_is_recorded_once(
        jane, store, lambda_context):
    event = ses_event("ses_open", jane)
    republished = {**event, "id": "9b8c7d6e-0000-4000-8000-000000000001", "time": "2026-11-02T09:20:00Z"}

    deliver(event, lambda_context)
    deliver(republished, lambda_context)

    assert len(engagement(store, jane)) == 1


def test_given_two_opens_of_one_email_then_each_is_its_own_event(jane, store, lambda_context):
    first = ses_event("ses_open", jane)
    later = ses_event("ses_open", jane)
    later["detail"]["open"]["timestamp"] = "2026-11-04T18:00:00.001Z"

    deliver(first, lambda_context)
    deliver(later, lambda_context)

    assert [entry.at for entry in store.events(jane.id, "email.opened")] == [
        at("2026-11-02T09:15:42.652Z"), at("2026-11-04T18:00:00.001Z")]


# ------------------------------------------------------------------ what is not recorded

def test_given_a_send_event_then_nothing_is_recorded_send_email_already_did(jane, store, lambda_context):
    result = deliver(ses_event("ses_send", jane), lambda_context)

    assert result["recorded"] is False and engagement(store, jane) == []


def test_given_mail_not_sent_for_a_contact_then_its_events_are_ignored(jane, store, lambda_context):
    result = deliver(ses_event("ses_open", jane, contact_id=None), lambda_context)

    assert result["recorded"] is False and "contact_id" in result["reason"]
    assert engagement(store, jane) == []


def test_given_a_contact_that_no_longer_exists_then_nothing_is_written_for_it(jane, store, lambda_context):
    result = deliver(ses_event("ses_open", "c_gone"), lambda_context)

    assert result == {**result, "recorded": False, "reason": "contact no longer exists"}
    assert store.history("c_gone") == []


def test_given_an_event_that_is_not_an_ses_record_then_the_function_says_so_without_failing(
        jane, store, lambda_context):
    event = ses_event("ses_open", jane)
    del event["detail"]["open"]

    result = deliver(event, lambda_context)

    assert result["recorded"] is False and result["reason"] == "not an SES event record"
    assert engagement(store, jane) == []


# ------------------------------------------------------------------ the rule in template.yaml

def _rule_pattern() -> EventPattern:
    template = Template.load(ROOT / "template.yaml")
    props = template.resources["EmailEventsFunction"]["Properties"]["Events"]["SesEngagement"]["Properties"]
    pattern = props["Pattern"]
    tags = pattern["detail"]["mail"]["tags"]
    assert tags["ses:configuration-set"] == [{"Ref": "EmailConfigurationSet"}]
    tags["ses:configuration-set"] = ["automaps-EmailConfigurationSet"]  # as the local stack names it
    return EventPattern(None, pattern)


@pytest.mark.parametrize("fixture, delivered", [
    ("ses_delivery", True), ("ses_open", True), ("ses_click", True), ("ses_bounce_permanent", True),
    ("ses_bounce_transient", True), ("ses_complaint", True), ("ses_send", False),
])
def test_given_the_rule_in_the_template_then_it_delivers_engagement_events_of_this_stacks_mail(
        fixture, delivered):
    pattern = _rule_pattern()
    event = ses_event(fixture, "c_1")
    other_stack = ses_event(fixture, "c_1", **{"ses:configuration-set": "someone-elses-set"})
    team_mail = ses_event(fixture, "c_1", contact_id=None)

    assert pattern.matches_event(event) is delivered
    assert not pattern.matches_event(other_stack) and not pattern.matches_event(team_mail)
