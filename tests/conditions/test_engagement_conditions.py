"""Conditions on what the contact did: opened and clicked emails (SES events through the email
events function, and our own SMTP pixel and redirect), pages visited (the page snippet's beacon),
and the course platform (the signed ingestion endpoint). The history is built only through those
entry points; each condition is decided by check_condition, negated too."""

from __future__ import annotations

import copy
import json

import pytest
from automaps import clock
from automaps.channels import tracking
from automaps.store.contacts import Contact

from functions.email_events import app as email_events
from functions.email_tracking import app as email_tracking
from functions.page_visits import app as page_visits
from tests.conftest import load_event
from tests.ingest.conftest import Sender


def ses(name: str, contact: Contact, lambda_context, **tags: str) -> None:
    """GIVEN SES publishes ``events/<name>.json`` about an email sent to ``contact`` (message tags as given)."""
    event = copy.deepcopy(load_event(f"{name}.json"))
    mail_tags = event["detail"]["mail"]["tags"]
    mail_tags["contact_id"] = [contact.id]
    for tag, value in tags.items():
        mail_tags[tag] = [value]
    event["detail"]["mail"]["messageId"] += name
    assert email_events.lambda_handler(event, lambda_context)["recorded"] is True


def pixel(contact: Contact, lambda_context, *, step_id: str, template: str) -> None:
    """GIVEN a mail client loads our open pixel of an email sent through an SMTP connection."""
    email = tracking.TrackedEmail(contact_id=contact.id, map_id="welcome-leads", step_id=step_id, template=template,
                                  message_id=f"<{step_id}@shop.example>", connection="office-smtp")
    token = tracking.open_url(email).rsplit("/", 1)[1]
    event = copy.deepcopy(load_event("email_tracking_open.json"))
    event["path"], event["pathParameters"] = f"/t/o/{token}", {"token": token}
    event["requestContext"]["requestTimeEpoch"] = int(clock.now().timestamp() * 1000)   # received now
    assert email_tracking.lambda_handler(event, lambda_context)["statusCode"] == 200


def visit(contact: Contact | None, lambda_context, token: str | None = None, **fields) -> None:
    """GIVEN the page snippet sends its beacon for a visitor (identified by their visitor token)."""
    event = load_event("page_visit.json")
    body = {**json.loads(event["body"]), **fields,
            "token": token if token is not None else tracking.visitor_token(contact.id)}
    event["body"] = json.dumps(body)
    assert page_visits.lambda_handler(event, lambda_context)["statusCode"] == 204


# ---------------------------------------------------------------- email engagement

def test_opened_email_through_ses_events(decide, jane, clock, lambda_context):
    ses("ses_open", jane, lambda_context, map_id="welcome-leads", step_id="welcome-email", template="welcome")
    clock.advance(days=3)

    assert decide({"opened_email": "welcome-email"}) is True
    assert decide({"opened_email": {"template": "welcome"}}) is True
    assert decide({"opened_email": {}}) is True                       # any email
    assert decide({"opened_email": "nudge-email"}) is False
    assert decide({"opened_email": {"email": "welcome-email", "map": "webinar-reminder"}}) is False
    assert decide({"opened_email": {"email": "welcome-email", "within": {"days": 2}}}) is False


def test_a_delivery_or_a_bounce_is_not_an_open(decide, jane, lambda_context):
    ses("ses_delivery", jane, lambda_context, map_id="welcome-leads", step_id="welcome-email")

    assert decide({"opened_email": "welcome-email"}) is False


def test_clicked_link_any_or_a_given_one_through_ses_events(decide, jane, clock, lambda_context):
    ses("ses_click", jane, lambda_context, map_id="welcome-leads", step_id="welcome-email", template="welcome")
    clock.advance(hours=2)                                             # the click was at 09:16Z

    assert decide({"clicked_link": "welcome-email"}) is True
    assert decide({"clicked_link": {"email": "welcome-email", "url": "https://shop.example/welcome"}}) is True
    assert decide({"clicked_link": {"email": "welcome-email", "url": "https://shop.example/pricing"}}) is False
    assert decide({"clicked_link": {"url": "https://shop.example/welcome/?other=query"}}) is True
    assert decide({"opened_email": "welcome-email"}) is False         # a click alone is not an open


def test_opened_email_through_our_smtp_pixel(decide, jane, lambda_context):
    pixel(jane, lambda_context, step_id="welcome-email", template="welcome")

    assert decide({"opened_email": "welcome-email"}) is True
    assert decide({"opened_email": {"template": "nudge"}}) is False


def test_a_forged_pixel_records_nothing_so_the_condition_stays_false(decide, jane, lambda_context):
    email = tracking.TrackedEmail(contact_id=jane.id, map_id="welcome-leads", step_id="welcome-email",
                                  template="welcome", message_id="<m@shop.example>", connection="office-smtp")
    token = tracking.open_url(email).rsplit("/", 1)[1]
    payload, signature = token.split(".")
    forged = f"{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    event = copy.deepcopy(load_event("email_tracking_open.json"))
    event["path"], event["pathParameters"] = f"/t/o/{forged}", {"token": forged}
    email_tracking.lambda_handler(event, lambda_context)

    assert decide({"opened_email": "welcome-email"}) is False


# ---------------------------------------------------------------- pages and funnels

def test_visited_page_and_inside_funnel_through_the_page_snippet(decide, jane, clock, lambda_context):
    visit(jane, lambda_context, url="https://example.com/webinar/live?utm_source=x", page="live", funnel="webinars")

    assert decide({"visited_page": "https://example.com/webinar/live"}) is True
    assert decide({"visited_page": "live"}) is True                    # by page id
    assert decide({"visited_page": {"funnel": "webinars", "page": "live"}}) is True
    assert decide({"visited_page": "https://example.com/pricing"}) is False
    assert decide({"inside_funnel": "webinars"}) is True
    assert decide({"inside_funnel": "workshops"}) is False
    clock.advance(days=10)
    assert decide({"inside_funnel": {"funnel": "webinars", "within": {"days": 7}}}) is False


def test_a_visit_with_a_tampered_visitor_token_records_nothing(decide, jane, lambda_context):
    token = tracking.visitor_token(jane.id)
    visit(None, lambda_context, token=token[:-3] + ("xyz" if not token.endswith("xyz") else "abc"),
          url="https://example.com/pricing")

    assert decide({"visited_page": "https://example.com/pricing"}) is False


# ---------------------------------------------------------------- the course platform

@pytest.fixture
def platform(aws, clock, lambda_context) -> Sender:
    """GIVEN the course platform, posting signed events to the ingestion endpoint."""
    return Sender(lambda_context, clock)


def course_event(sender: Sender, jane: Contact, event_id: str, type_: str, **fields) -> None:
    body = {"id": event_id, "type": type_, "email": "jane@example.com",
            "occurred_at": sender.clock.now().isoformat(), **fields}
    response = sender.post(body)
    assert response["statusCode"] == 200 and response["json"]["results"][0]["status"] == "accepted", response["json"]


def test_course_started_completed_and_steps(decide, jane, platform):
    course_event(platform, jane, "ev-1", "course.started", course="python-101")
    course_event(platform, jane, "ev-2", "course.step_completed", course="python-101", step="lesson-3")

    assert decide({"course_started": "python-101"}) is True
    assert decide({"course_started": True}) is True
    assert decide({"course_completed": "python-101"}) is False
    assert decide({"course_step_completed": {"course": "python-101", "step": "lesson-3"}}) is True
    assert decide({"course_step_completed": {"course": "python-101", "step": "lesson-4"}}) is False
    assert decide({"course_step_completed": {"course": "python-101"}}) is True    # any step

    course_event(platform, jane, "ev-3", "course.completed", course="python-101")
    assert decide({"course_completed": "python-101"}) is True
    assert decide({"course_completed": "sql-201"}) is False


def test_has_subscription_follows_subscribe_and_unsubscribe(decide, jane, platform, clock):
    course_event(platform, jane, "ev-1", "course.subscribed", course="python-101", plan="monthly")

    assert decide({"has_subscription": "python-101"}) is True
    assert decide({"has_subscription": True}) is True
    assert decide({"has_subscription": "sql-201"}) is False

    clock.advance(days=30)
    course_event(platform, jane, "ev-2", "course.unsubscribed", course="python-101")
    assert decide({"has_subscription": "python-101"}) is False
    assert decide({"has_subscription": True}) is False


def test_has_account_until_it_is_closed(decide, jane, platform, clock):
    assert decide({"has_account": True}) is False
    course_event(platform, jane, "ev-1", "account.created", platform="training-jet")
    assert decide({"has_account": True}) is True
    assert decide({"has_account": "training-jet"}) is True
    assert decide({"has_account": "other-platform"}) is False

    clock.advance(days=1)
    course_event(platform, jane, "ev-2", "account.closed", platform="training-jet")
    assert decide({"has_account": True}) is False


def test_last_active_date(decide, jane, platform, clock):
    assert decide({"last_active_date": {"within_last": {"days": 30}}}) is False   # never active
    course_event(platform, jane, "ev-1", "account.active", platform="training-jet")
    clock.advance(days=10)

    assert decide({"last_active_date": {"within_last": {"days": 30}}}) is True
    assert decide({"last_active_date": {"within_last": {"days": 7}}}) is False
    assert decide({"last_active_date": {"on": "2026-11-02"}}) is True     # in Jane's timezone (New York)
    assert decide({"last_active_date": {"before": "2026-11-05", "platform": "training-jet"}}) is True


def test_purchases_ingested_from_the_platform_feed_purchase_conditions(decide, jane, platform):
    course_event(platform, jane, "ord-9", "purchase.made", product="python-101", price="99.00", currency="USD",
                 order_id="ord-9")

    assert decide({"purchased_product": "python-101"}) is True
    assert decide({"event_attribute": {"event": "purchase.made", "name": "total", "ge": 99}}) is True
