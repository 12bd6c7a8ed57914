"""Duplicate deliveries of email engagement (issue 8, "duplicate deliveries from SQS, EventBridge and
SES events"; SQS is tests/faults/test_intake.py). On the local runtime, from template.yaml: the
runtime plays SES publishing an event of Jane's welcome email through EventBridge, the rule invokes
the email_events function. Faults come from outside: the very event EventBridge delivered
(same event id) delivered again, DynamoDB's answer lost after the function wrote (Lambda's
asynchronous retries run it again), an API Gateway request to the SMTP pixel or redirect replayed
(same request id). Each test counts the history entries per event (1), the suppressions (1) and
the messages sent (the welcome email; the journey's thank-you SMS once, no nudge)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ReadTimeoutError
from werkzeug.test import Client

from automaps import aws as aws_clients
from automaps import config
from automaps.channels import tracking
from automaps.store.content import from_item
from automaps_local.clock import VirtualClock
from automaps_local.http import LocalApi
from automaps_local.runtime import LocalFunction, LocalRuntime
from automaps_local.serve import push_content
from tests.conftest import ROOT, load_event

pytestmark = pytest.mark.slow

MONDAY_9AM = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # 09:00 in New York
JANE = "jane.doe@example.com"
EVENTS_FUNCTION = "EmailEventsFunction"
TRACKING_FUNCTION = "EmailTrackingFunction"

# the SES event types and what each records
ENGAGEMENTS = {"Open": "email.opened", "Click": "email.clicked", "Bounce": "email.bounced",
               "Complaint": "email.complained"}


@dataclass
class Invocation:
    function: str
    event: Any
    result: Any
    error: BaseException | None


@dataclass
class Backend:
    runtime: LocalRuntime
    api: Client
    invocations: list[Invocation] = field(default_factory=list)

    def listen(self, function: LocalFunction, event: Any, result: Any, error: BaseException | None) -> None:
        self.invocations.append(Invocation(function.logical_id, copy.deepcopy(event), result, error))

    def of(self, function: str) -> list[Invocation]:
        return [i for i in self.invocations if i.function == function]

    # ------------------------------------------------------------------ the world
    def sign_up(self) -> dict[str, Any]:
        """GIVEN Jane signed up on the newsletter form and the welcome map emailed her through SES
        (tagged with her contact, the map and the step); returns the email in the outbox."""
        body = json.loads(load_event("form_post_json.json")["body"])
        assert self.api.post("/forms/newsletter", json=body).status_code == 202
        self.runtime.run_until_settled(until=timedelta(hours=1))
        [welcome] = self.emails()
        return welcome

    def redeliver(self, delivered: Invocation, times: int) -> list[Any]:
        """EventBridge delivers the same event (same id) ``times`` more times (at least once
        delivery); returns what the function answered each time."""
        return [self.runtime.invoke(delivered.function, delivered.event) for _ in range(times)]

    def contact(self) -> dict[str, Any]:
        return self.runtime.contact(email=JANE)

    def entries(self, kind: str) -> list[dict[str, Any]]:
        return [h for h in self.contact()["history"] if h["kind"] == kind]

    def emails(self) -> list[dict[str, Any]]:
        return self.runtime.outbox()["emails"]

    def sms(self) -> list[dict[str, Any]]:
        return self.runtime.outbox()["sms"]

    def suppressions(self) -> list[dict[str, Any]]:
        return [i for i in table_items() if i["pk"].startswith("SUPPRESSED#")]


def table_items() -> list[dict[str, Any]]:
    """Every item of the contacts table, as stored, but the router's counters (automaps.store.stats:
    derived from the entries, written when the stream delivers them, after the request)."""
    pages = aws_clients.client("dynamodb").get_paginator("scan").paginate(TableName=config.contacts_table())
    items = [from_item(item) for page in pages for item in page["Items"]]
    return [i for i in items if not i["pk"].startswith("STATS") and not i["sk"].startswith("STAT#")]


@pytest.fixture
def backend() -> Iterator[Backend]:
    """GIVEN the backend from template.yaml on the local runtime, content pushed, at a virtual
    instant that moves only when the test runs it; every function invocation is observed (without
    the template's hourly segment sweep, whose bookkeeping is not what these faults are about)."""
    with LocalRuntime(ROOT / "template.yaml", clock=VirtualClock(MONDAY_9AM, auto_advance=False),
                      environment={"POWERTOOLS_METRICS_DISABLED": "true"}, schedule_events=False) as runtime:
        push_content(runtime)
        running = Backend(runtime, Client(LocalApi(runtime)))
        runtime.listeners.append(running.listen)
        yield running


def publish(backend: Backend, welcome: dict[str, Any], event_type: str) -> Invocation:
    """SES publishes ``event_type`` of the welcome email an hour after it went out; returns the one
    delivery EventBridge made of it."""
    backend.runtime.clock.advance(3600)
    before = len(backend.of(EVENTS_FUNCTION))
    published = backend.runtime.ses_event(welcome["id"], event_type)
    [delivered] = backend.of(EVENTS_FUNCTION)[before:]
    assert delivered.event["id"] == published["event_id"] and delivered.error is None
    return delivered


# ------------------------------------------------------------------ EventBridge delivers the same event again


@pytest.mark.parametrize("deliveries", [2, 3])
@pytest.mark.parametrize("event_type", list(ENGAGEMENTS))
def test_given_an_ses_event_when_eventbridge_delivers_it_again_then_it_is_recorded_once(
        backend, event_type, deliveries):
    # GIVEN Jane's welcome email, and SES's event about it delivered by EventBridge
    welcome = backend.sign_up()
    delivered = publish(backend, welcome, event_type)
    assert delivered.result["recorded"] is True

    # WHEN EventBridge delivers the same event (same id) again
    answers = backend.redeliver(delivered, deliveries - 1)

    # THEN each later delivery is acknowledged as already recorded: one entry, at most one suppression
    assert [a["reason"] for a in answers] == ["already recorded"] * (deliveries - 1)
    assert {i.event["id"] for i in backend.of(EVENTS_FUNCTION)} == {delivered.event["id"]}
    [entry] = backend.entries(ENGAGEMENTS[event_type])
    assert (entry["map_id"], entry["step_id"], entry["detail"]["message_id"]) == (
        "welcome-leads", "welcome-email", welcome["id"])
    suppressions = backend.suppressions()
    if event_type in ("Bounce", "Complaint"):   # the fixture bounce is Permanent, the complaint "abuse"
        [suppressed] = suppressions
        assert suppressed["pk"] == f"SUPPRESSED#{JANE}" and suppressed["message_id"] == welcome["id"]
        assert entry["detail"]["suppressed"] is True
    else:
        assert suppressions == []
    assert len(backend.emails()) == 1 and backend.sms() == []


@pytest.mark.parametrize("event_type", list(ENGAGEMENTS))
def test_given_an_ses_event_when_ses_publishes_the_same_record_again_under_a_new_event_id_then_it_is_recorded_once(
        backend, event_type):
    welcome = backend.sign_up()
    delivered = publish(backend, welcome, event_type)

    # WHEN SES publishes the same record again (EventBridge gives it a new event id)
    again = {"Source": "aws.ses", "DetailType": delivered.event["detail-type"],
             "Detail": json.dumps(delivered.event["detail"]), "Resources": delivered.event["resources"],
             "Time": backend.runtime.clock.now()}
    aws_clients.client("events").put_events(Entries=[again])

    # THEN the record is what identifies the event: one entry, at most one suppression
    first, second = backend.of(EVENTS_FUNCTION)[-2:]
    assert first.event["id"] != second.event["id"] and second.result["reason"] == "already recorded"
    assert len(backend.entries(ENGAGEMENTS[event_type])) == 1
    assert len(backend.suppressions()) == (1 if event_type in ("Bounce", "Complaint") else 0)


class LostAnswers:
    """DynamoDB takes a PutItem of the history entry or suppression, then its answer is lost
    (a read timeout), once per item: the function fails after it wrote and Lambda's
    asynchronous invocation retries it (twice at most)."""

    def __init__(self) -> None:
        self.pending: str | None = None
        self.lost: list[str] = []

    def remember(self, params: dict[str, Any], **_: Any) -> None:
        self.pending = params["Item"]["pk"]["S"] + "|" + params["Item"]["sk"]["S"]

    def lose(self, http_response: Any, **_: Any) -> None:
        key, self.pending = self.pending, None
        if key and key not in self.lost and key.split("|")[1].startswith(("H#", "SUPPRESSED")) \
                and http_response.status_code == 200:
            self.lost.append(key)
            raise ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")


@pytest.mark.parametrize("event_type", list(ENGAGEMENTS))
def test_given_the_answer_lost_after_the_function_wrote_when_lambda_retries_it_then_nothing_is_recorded_twice(
        backend, event_type):
    welcome = backend.sign_up()
    lost = LostAnswers()
    events = aws_clients.client("dynamodb").meta.events
    events.register("provide-client-params.dynamodb.PutItem", lost.remember, unique_id="fault-remember")
    events.register("after-call.dynamodb.PutItem", lost.lose, unique_id="fault-lose")
    try:
        # WHEN SES publishes the event and each write's answer is lost once
        backend.runtime.clock.advance(3600)
        backend.runtime.ses_event(welcome["id"], event_type)
    finally:
        events.unregister("provide-client-params.dynamodb.PutItem", unique_id="fault-remember")
        events.unregister("after-call.dynamodb.PutItem", unique_id="fault-lose")

    # THEN the function failed after writing, was retried by Lambda, and everything stands once
    attempts = backend.of(EVENTS_FUNCTION)
    assert len({a.event["id"] for a in attempts}) == 1
    suppressing = event_type in ("Bounce", "Complaint")
    assert len(lost.lost) == (2 if suppressing else 1)
    assert [type(a.error).__name__ for a in attempts[:-1]] == ["ReadTimeoutError"] * len(lost.lost)
    assert attempts[-1].error is None and len(attempts) == len(lost.lost) + 1 <= 3
    assert len(backend.entries(ENGAGEMENTS[event_type])) == 1
    assert len(backend.suppressions()) == (1 if suppressing else 0)
    assert len(backend.emails()) == 1


# ------------------------------------------------------------------ the journey that branches on the open


def test_given_the_open_delivered_three_times_then_the_welcome_map_sends_the_thank_you_sms_once(backend):
    # GIVEN Jane's welcome email; a day later she opens it and EventBridge delivers the open three times
    welcome = backend.sign_up()
    backend.runtime.run_until_settled(until=timedelta(days=1))
    delivered = publish(backend, welcome, "Open")
    backend.redeliver(delivered, 2)

    # WHEN the two days pass and the map decides
    backend.runtime.run_until_settled()

    # THEN one open on her history, the branch taken once: one thank-you SMS, no nudge email
    assert len(backend.entries("email.opened")) == 1
    [sms] = backend.sms()
    assert sms["text"].startswith("Thanks for reading, Jane!")
    assert [e["subject"] for e in backend.emails()] == ["Welcome aboard, Jane!"]
    [decided] = backend.entries("condition.evaluated")
    assert decided["detail"]["result"] is True and decided["detail"]["inputs"][0]["matching"] == 1
    steps = {h["step_id"] for h in backend.contact()["history"] if h["kind"].startswith("step.")}
    assert "nudge-email" not in steps
    assert len(backend.entries("sms.sent")) == 1
    [execution] = backend.runtime.executions("welcome-leads")
    assert execution["status"] == "SUCCEEDED"


# ------------------------------------------------------------------ our own pixel and redirect, replayed


@pytest.mark.parametrize("kind", ["email.opened", "email.clicked"])
def test_given_a_pixel_or_click_request_when_api_gateway_replays_it_then_it_is_recorded_once(backend, kind):
    # GIVEN an email to Jane through an SMTP connection, with our pixel and redirect in it
    backend.sign_up()
    email = tracking.TrackedEmail(contact_id=backend.contact()["contact_id"], map_id="welcome-leads",
                                  step_id="welcome-email", template="welcome", message_id="<m1@office.example>",
                                  connection="office")
    url = tracking.open_url(email) if kind == "email.opened" else tracking.click_url(email, "https://example.com/a?x=1")
    path = url.removeprefix(config.public_api_url())

    # WHEN she opens it (or clicks) and the same request (same API Gateway request id) is invoked twice more
    first = backend.api.get(path, headers={"Accept": "image/gif"})
    [request] = backend.of(TRACKING_FUNCTION)
    replies = backend.redeliver(request, 2)

    # THEN every answer is the pixel (or the redirect), and one entry is on her history
    assert first.status_code == (200 if kind == "email.opened" else 302)
    assert {r["statusCode"] for r in replies} == {first.status_code}
    [entry] = backend.entries(kind)
    assert entry["detail"]["message_id"] == "<m1@office.example>" and entry["detail"]["connection"] == "office"
    # a new request (another request id) is another open
    backend.api.get(path, headers={"Accept": "image/gif"})
    assert len(backend.entries(kind)) == 2


# ------------------------------------------------------------------ events nobody can record


def test_given_a_contact_that_no_longer_exists_when_ses_reports_an_open_then_it_is_acknowledged_and_nothing_stored(
        backend):
    # GIVEN Jane's welcome email, then Jane's items erased
    welcome = backend.sign_up()
    contact_id = backend.contact()["contact_id"]
    db = aws_clients.client("dynamodb")
    for item in table_items():
        if item["pk"] == f"CONTACT#{contact_id}":
            db.delete_item(TableName=config.contacts_table(), Key={"pk": {"S": item["pk"]}, "sk": {"S": item["sk"]}})
    before = table_items()

    # WHEN SES publishes her open (and her click)
    opened = publish(backend, welcome, "Open")
    clicked = publish(backend, welcome, "Click")

    # THEN each delivery is acknowledged once (no error, so no retry), and nothing is stored
    assert [(i.result["recorded"], i.result["reason"]) for i in (opened, clicked)] == [
        (False, "contact no longer exists")] * 2
    assert len(backend.of(EVENTS_FUNCTION)) == 2
    assert table_items() == before
    assert backend.runtime.contact(contact_id=contact_id) is None


MALFORMED = {
    "no open object": lambda d: d.pop("open"),
    "no message id": lambda d: d["mail"].pop("messageId"),
    "timestamp not a time": lambda d: d["open"].update(timestamp="yesterday"),
    "mail a string": lambda d: d.update(mail="x"),
    "unknown event type": lambda d: d.update(eventType="Teleported"),
    "empty contact tag": lambda d: d["mail"]["tags"].update(contact_id=[""]),
}


@pytest.mark.parametrize("damage", list(MALFORMED))
def test_given_a_malformed_ses_event_when_eventbridge_delivers_it_then_it_is_acknowledged_and_nothing_stored(
        backend, damage):
    # GIVEN an open of Jane's welcome email, as SES would publish it, damaged
    welcome = backend.sign_up()
    backend.runtime.clock.advance(3600)
    before = table_items()
    invocations = len(backend.of(EVENTS_FUNCTION))
    published = backend.runtime.ses_event(welcome["id"], "Open")   # to learn the real detail's shape
    [real] = backend.of(EVENTS_FUNCTION)[invocations:]
    for item in table_items():   # the real open undone: only the damaged copy is delivered below
        if item not in before:
            aws_clients.client("dynamodb").delete_item(TableName=config.contacts_table(),
                                                       Key={"pk": {"S": item["pk"]}, "sk": {"S": item["sk"]}})
    detail = copy.deepcopy(published["detail"])
    MALFORMED[damage](detail)

    # WHEN the damaged event reaches the function through the template's rule
    entry = {"Source": "aws.ses", "DetailType": real.event["detail-type"], "Detail": json.dumps(detail),
             "Resources": real.event["resources"], "Time": backend.runtime.clock.now()}
    [result] = aws_clients.client("events").put_events(Entries=[entry])["Entries"]

    # THEN it is delivered once, answered without an error (nothing for Lambda to retry), nothing stored
    assert "EventId" in result
    delivered = backend.of(EVENTS_FUNCTION)[invocations + 1:]
    if damage == "mail a string":   # the rule's pattern needs a contact tag (any value, even empty)
        assert delivered == []
    else:
        [once] = delivered
        assert once.error is None and once.result["recorded"] is False and once.result["reason"]
    assert table_items() == before


@pytest.mark.parametrize("event", [{}, [], "Email Opened", None, 7, {"source": "aws.ses", "detail": []},
                                   {"id": "x", "source": "aws.ses", "detail-type": "Email Clicked", "time": "now"}])
def test_given_an_event_of_no_known_shape_when_invoked_then_it_is_acknowledged_and_nothing_stored(backend, event):
    backend.sign_up()
    before = table_items()

    answer = backend.runtime.invoke(EVENTS_FUNCTION, event)

    assert answer == {"kind": None, "recorded": False, "reason": "not an SES event record", "suppressed": []}
    assert table_items() == before


def test_given_a_click_on_a_link_that_is_not_a_url_then_it_is_recorded_without_a_crash(backend):
    # SES reports the link as written in the email: a broken IPv6 literal is not a URL
    welcome = backend.sign_up()
    backend.runtime.clock.advance(3600)
    before = len(backend.of(EVENTS_FUNCTION))

    backend.runtime.ses_event(welcome["id"], "Click", link="http://[oops/page?x=1")

    [delivered] = backend.of(EVENTS_FUNCTION)[before:]
    assert delivered.error is None and delivered.result["recorded"] is True
    [clicked] = backend.entries("email.clicked")
    assert "?" not in clicked["detail"]["url"]
