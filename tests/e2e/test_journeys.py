"""End to end on the local runtime: a form post over HTTP, the contact stored, the map's state
machine executing with in-process Lambdas, waits passing on the virtual clock, branches taken,
messages landing in the outbox. Everything is wired from template.yaml."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from werkzeug.test import Client

from automaps import aws as aws_clients
from automaps.store.contacts import ContactStore
from automaps.store.content import ContentStore
from automaps_local.clock import VirtualClock
from automaps_local.http import LocalApi
from automaps_local.runtime import LocalRuntime
from automaps_local.serve import push_content
from tests.conftest import ROOT, load_event

pytestmark = pytest.mark.slow

MONDAY_9AM = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # 09:00 in New York


@dataclass
class Backend:
    runtime: LocalRuntime
    api: Client
    clock: VirtualClock

    def post_form(self, form: str, body: dict | str, content_type: str = "application/json", **headers):
        data = json.dumps(body) if isinstance(body, dict) else body
        return self.api.post(f"/forms/{form}", data=data, headers={"Content-Type": content_type, **headers})

    def contact(self, email: str) -> dict:
        return self.runtime.contact(email=email)

    def steps(self, email: str) -> dict[str, tuple[str, str | None]]:
        """step id -> (outcome, reason) of the step.* entries on the contact's history."""
        return {h["step_id"]: (h["kind"].split(".")[1], h["detail"].get("reason"))
                for h in self.contact(email)["history"] if h["kind"].startswith("step.")}

    def emails(self) -> list[dict]:
        return self.runtime.outbox()["emails"]

    def sms(self) -> list[dict]:
        return self.runtime.outbox()["sms"]


@pytest.fixture
def backend():
    """GIVEN the backend from template.yaml on moto, maps, templates and forms pushed, at a fixed
    virtual instant that moves only when the test says so."""
    clock = VirtualClock(MONDAY_9AM, auto_advance=False)
    with LocalRuntime(ROOT / "template.yaml", clock=clock,
                      environment={"POWERTOOLS_METRICS_DISABLED": "true"}) as runtime:
        push_content(runtime)
        yield Backend(runtime, Client(LocalApi(runtime)), clock)


def newsletter_post() -> dict:
    """The JSON body of the fixture API Gateway event: Jane, 52, in New York."""
    return json.loads(load_event("form_post_json.json")["body"])


# ------------------------------------------------------------------ the welcome map


def test_given_a_newsletter_signup_then_the_welcome_email_goes_out_with_merge_fields_at_once(backend):
    response = backend.post_form("newsletter", newsletter_post())
    backend.runtime.run_until_settled(until=timedelta(hours=1))

    assert response.status_code == 202
    contact = backend.contact("jane.doe@example.com")
    assert {"lead", "newsletter"} <= set(contact["tags"])
    [welcome] = backend.emails()
    assert welcome["to"] == ["Jane.Doe@example.com"]   # as the contact wrote it; matched case-insensitively
    assert welcome["subject"] == "Welcome aboard, Jane!"
    assert "{{" not in welcome["text"] and "Jane" in welcome["text"]
    assert "/unsubscribe?t=" in welcome["headers"]["List-Unsubscribe"]
    assert backend.steps("jane.doe@example.com")["tag-lead"] == ("done", None)


def test_given_a_contact_who_did_not_engage_when_two_days_pass_then_the_nudge_comes_four_hours_later(backend):
    backend.post_form("newsletter", newsletter_post())

    backend.runtime.run_until_settled(until=timedelta(days=2, hours=3))     # Wednesday 12:00 in New York
    assert [e["subject"] for e in backend.emails()] == ["Welcome aboard, Jane!"]

    backend.runtime.run_until_settled()
    subjects = [(e["at"], e["subject"]) for e in backend.emails()]
    # two days, then 09:00 in the contact's timezone (14:00Z), then the 4-hour delay
    assert subjects[1] == ("2026-11-25T18:00:00Z", "Jane, did you see this?")
    assert backend.sms() == []
    [execution] = backend.runtime.executions("welcome-leads")
    assert execution["status"] == "SUCCEEDED"
    evaluated = [h for h in backend.contact("jane.doe@example.com")["history"] if h["kind"] == "condition.evaluated"]
    assert evaluated[0]["detail"]["result"] is False


def test_given_a_contact_who_opened_the_welcome_email_then_the_branch_sends_the_sms(backend):
    backend.post_form("newsletter", newsletter_post())
    backend.runtime.run_until_settled(until=timedelta(days=1))
    # SES publishes the open through the configuration set to EventBridge; the rule's function records it
    [welcome] = backend.emails()
    backend.runtime.ses_event(welcome["id"], "Open")

    backend.runtime.run_until_settled()

    [sms] = backend.sms()
    assert sms["to"] == "+14155550134"
    assert sms["text"].startswith("Thanks for reading, Jane! 10% off your first order with code WELCOME")
    assert [e["subject"] for e in backend.emails()] == ["Welcome aboard, Jane!"]
    assert "nudge-email" not in backend.steps("jane.doe@example.com")
    history = backend.contact("jane.doe@example.com")["history"]
    [opened] = [h for h in history if h["kind"] == "email.opened"]
    assert (opened["map_id"], opened["step_id"]) == ("welcome-leads", "welcome-email")
    [decided] = [h for h in history if h["kind"] == "condition.evaluated"]
    assert decided["detail"]["result"] is True
    assert decided["detail"]["inputs"][0]["condition"] == "opened_email"
    assert decided["detail"]["inputs"][0]["matching"] == 1


def test_given_a_contact_who_only_clicked_a_link_then_the_branch_sends_the_sms_too(backend):
    backend.post_form("newsletter", newsletter_post())
    backend.runtime.run_until_settled(until=timedelta(days=1))
    [welcome] = backend.emails()
    backend.runtime.ses_event(welcome["id"], "Click")

    backend.runtime.run_until_settled()

    assert len(backend.sms()) == 1
    [decided] = [h for h in backend.contact("jane.doe@example.com")["history"] if h["kind"] == "condition.evaluated"]
    assert [i["condition"] for i in decided["detail"]["inputs"]] == ["opened_email", "clicked_link"]


def test_given_a_contact_not_over_45_then_the_nudge_is_skipped_with_its_reason(backend):
    backend.post_form("newsletter", {**newsletter_post(), "age": 30})

    backend.runtime.run_until_settled()

    assert backend.steps("jane.doe@example.com")["nudge-email"] == ("skipped", "only_if not met")
    assert len(backend.emails()) == 1


def test_given_an_html_form_post_then_the_browser_is_redirected_and_the_journey_runs(backend):
    body = load_event("form_post_urlencoded.json")["body"]

    response = backend.post_form("newsletter", body, "application/x-www-form-urlencoded", Accept="text/html")
    backend.runtime.run_until_settled()

    assert response.status_code == 303
    assert response.headers["Location"] == "https://example.com/thanks"
    assert backend.emails()[0]["to"] == ["sam@example.org"]
    assert backend.runtime.executions("welcome-leads")[0]["status"] == "SUCCEEDED"


def test_given_a_malformed_post_then_400_and_nothing_is_stored_or_started(backend):
    response = backend.post_form("newsletter", load_event("form_post_malformed.json")["body"])

    assert response.status_code == 400
    assert backend.runtime.executions() == []
    assert backend.contact("not-an-address") is None


def test_given_the_same_submission_posted_twice_then_one_journey_runs(backend):
    backend.post_form("newsletter", newsletter_post())
    backend.post_form("newsletter", newsletter_post())
    backend.runtime.run_until_settled()

    assert len(backend.runtime.executions("welcome-leads")) == 1
    assert len(backend.emails()) == 2   # welcome + nudge, once each


# ------------------------------------------------------------------ failures and retries


def test_given_a_missing_template_then_the_failure_is_recorded_and_the_contact_moves_on(backend):
    ContentStore().put("TEMPLATE", "welcome", {"subject": "{{ contact.first_name }", "html": "x"})  # broken

    backend.post_form("newsletter", newsletter_post())
    backend.runtime.run_until_settled()

    outcome, reason = backend.steps("jane.doe@example.com")["welcome-email"]
    assert outcome == "failed" and "template" in reason
    assert backend.runtime.executions("welcome-leads")[0]["status"] == "SUCCEEDED"
    assert [e["subject"] for e in backend.emails()] == ["Jane, did you see this?"]


def test_given_ses_throttles_once_then_the_state_machine_retries_and_one_email_goes_out(backend):
    throttled: list[int] = []

    def throttle_first_send(**_):
        if not throttled:
            throttled.append(1)
            raise ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "slow down"},
                               "ResponseMetadata": {"HTTPStatusCode": 429}}, "SendEmail")

    aws_clients.client("sesv2").meta.events.register("before-call.sesv2.SendEmail", throttle_first_send)
    backend.post_form("newsletter", newsletter_post())
    backend.runtime.run_until_settled(until=timedelta(hours=1))

    assert throttled == [1]
    assert [e["subject"] for e in backend.emails()] == ["Welcome aboard, Jane!"]
    [execution] = backend.runtime.executions("welcome-leads")
    history = backend.runtime.history(execution["arn"])
    assert sum(1 for e in history if e["type"] == "TaskFailed") == 1          # the throttled attempt
    assert backend.steps("jane.doe@example.com")["welcome-email"] == ("done", None)


# ------------------------------------------------------------------ the other example maps


def test_given_a_webinar_registration_then_the_reminder_sms_comes_one_hour_before_it(backend):
    backend.post_form("webinar", {"email": "wes@example.com", "first_name": "Wes", "phone": "+442079460958",
                                  "webinar_at": "2026-11-26T18:00:00Z"})

    backend.runtime.run_until_settled()

    assert [e["subject"] for e in backend.emails()][0].startswith("You're registered")
    [sms] = backend.sms()
    assert sms["at"] == "2026-11-26T17:00:00Z"
    assert sms["text"].startswith("Hi Wes, the webinar starts in one hour")


def test_given_a_cancellation_then_fields_tags_note_and_confirmation_follow(backend):
    ContactStore().upsert_by_email("mia@example.com", {"first_name": "Mia"}, tags=["member"])

    backend.post_form("cancel-membership", {"email": "mia@example.com", "reason": "moving abroad"})
    backend.runtime.run_until_settled()

    mia = backend.contact("mia@example.com")
    assert mia["profile"]["fields"]["membership_status"] == "cancelled"
    assert mia["profile"]["fields"]["cancelled_at"] == "2026-11-23T14:00:00Z"
    assert "former-member" in mia["tags"] and "member" not in mia["tags"]
    assert "moving abroad" in mia["notes"][0]["text"]
    assert len(backend.emails()) == 1
    assert backend.runtime.executions("membership-cancel")[0]["status"] == "SUCCEEDED"
