"""End to end on the local runtime: the welcome map emails Jane through SES, the runtime plays SES
publishing her open through EventBridge, the template's rule invokes the email events function,
and the open is on her history where conditions read it. Wired from template.yaml only."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from werkzeug.test import Client

from automaps import aws as aws_clients
from automaps.store.contacts import ContactStore
from automaps_local.clock import VirtualClock
from automaps_local.http import LocalApi
from automaps_local.runtime import LocalRuntime
from automaps_local.serve import push_content
from tests.conftest import ROOT, load_event

pytestmark = pytest.mark.slow

MONDAY_9AM = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def runtime():
    """GIVEN the backend from template.yaml on moto, content pushed, on a virtual clock."""
    clock = VirtualClock(MONDAY_9AM, auto_advance=False)
    with LocalRuntime(ROOT / "template.yaml", clock=clock,
                      environment={"POWERTOOLS_METRICS_DISABLED": "true"}) as running:
        push_content(running)
        yield running


@pytest.fixture(scope="module")
def api(runtime) -> Client:
    return Client(LocalApi(runtime))


@pytest.fixture(scope="module")
def welcomed(runtime, api) -> tuple[str, dict]:
    """GIVEN Jane signed up through the newsletter form and the welcome map emailed her through
    SES; returns her contact id and the email in the outbox."""
    body = json.loads(load_event("form_post_json.json")["body"])
    assert api.post("/forms/newsletter", json=body).status_code == 202
    runtime.run_until_settled(until=timedelta(minutes=5))
    contact_id = runtime.contact(email="jane.doe@example.com")["contact_id"]
    [welcome] = [m for m in runtime.outbox()["emails"] if [a.lower() for a in m["to"]] == ["jane.doe@example.com"]]
    return contact_id, welcome


def test_given_the_template_then_the_engagement_rule_targets_the_email_events_function(runtime):
    rules = aws_clients.client("events").list_rules()["Rules"]
    [rule] = [r for r in rules if r["Name"] == "automaps-EmailEventsFunction-SesEngagement"]
    pattern = json.loads(rule["EventPattern"])
    assert pattern["detail"]["mail"]["tags"]["ses:configuration-set"] == ["automaps-EmailConfigurationSet"]
    [target] = aws_clients.client("events").list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"] == runtime.functions["EmailEventsFunction"].arn


def test_given_a_welcome_email_sent_through_ses_when_jane_opens_it_then_the_open_is_on_her_history(
        runtime, welcomed):
    contact_id, welcome = welcomed
    runtime.clock.advance(3600)
    opened_at = runtime.clock.now()

    published = runtime.ses_event(welcome["id"], "Open")

    assert published["detail-type"] == "Email Opened"
    assert published["detail"]["mail"]["tags"]["contact_id"] == [contact_id]
    [opened] = ContactStore().events(contact_id, "email.opened")
    assert (opened.map_id, opened.step_id) == ("welcome-leads", "welcome-email")
    assert opened.at == opened_at.replace(microsecond=opened_at.microsecond // 1000 * 1000) > MONDAY_9AM
    assert opened.detail == {"message_id": welcome["id"], "template": "welcome", "connection": "default"}


def test_given_the_http_front_when_a_click_is_played_then_it_is_recorded_without_its_query(runtime, api, welcomed):
    contact_id, welcome = welcomed

    response = api.post("/_local/ses-events", json={"message_id": welcome["id"], "type": "Click",
                                                    "link": "https://example.com/guides/getting-started?ref=mail"})

    assert response.status_code == 202, response.get_data(as_text=True)
    [clicked] = ContactStore().events(contact_id, "email.clicked")
    assert clicked.detail["url"] == "https://example.com/guides/getting-started"


def test_given_an_unknown_message_or_event_type_then_the_http_front_says_what_is_wrong(api, welcomed):
    _, welcome = welcomed

    unknown = api.post("/_local/ses-events", json={"message_id": "nope", "type": "Open"})
    wrong_type = api.post("/_local/ses-events", json={"message_id": welcome["id"], "type": "Opened"})
    no_body = api.post("/_local/ses-events", data="{}")

    assert (unknown.status_code, wrong_type.status_code, no_body.status_code) == (404, 400, 400)


def test_given_a_permanent_bounce_played_then_the_address_is_suppressed_through_the_whole_path(runtime, welcomed):
    contact_id, welcome = welcomed

    runtime.ses_event(welcome["id"], "Bounce", bounce_type="Permanent")

    assert ContactStore().email_suppression("jane.doe@example.com").reason == "bounced"
    [bounced] = ContactStore().events(contact_id, "email.bounced")
    assert bounced.detail["bounce_type"] == "Permanent" and bounced.detail["suppressed"] is True


def test_given_the_open_pixel_through_the_http_front_then_an_image_request_gets_binary_gif_bytes(runtime, api):
    response = api.get("/v1/t/o/not-a-token", headers={"Accept": "image/webp,image/*,*/*;q=0.8"})

    assert response.status_code == 200 and response.headers["Content-Type"] == "image/gif"
    assert response.get_data().startswith(b"GIF89a")
