"""`automaps serve` serves the page-visit and ingestion routes template.yaml declares, through
the same HTTP front as the forms: a page loads the snippet, beacons a visit, a platform posts events."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from werkzeug.test import Client

from automaps import clock, secrets
from automaps.channels.tracking import visitor_token
from automaps.store.contacts import ContactStore
from automaps.intake.ingest import signature
from automaps_local.http import LocalApi
from automaps_local.runtime import LocalRuntime
from tests.conftest import ROOT

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    """GIVEN the project's template.yaml standing on the local runtime behind the HTTP front."""
    with LocalRuntime(ROOT / "template.yaml", start=START, missing_definitions="skip") as runtime:
        yield Client(LocalApi(runtime))


def test_given_the_template_then_the_snippet_is_served_as_javascript(client):
    response = client.get("/v1/t/snippet.js")

    assert response.status_code == 200 and response.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert "am_c" in response.get_data(as_text=True)


def test_given_a_browser_preflight_then_cors_answers(client):
    response = client.options("/t/visit", headers={"Origin": "https://example.com",
                                                   "Access-Control-Request-Method": "POST"})

    assert response.status_code == 204 and response.headers["Access-Control-Allow-Origin"] == "*"


def test_given_an_identified_visitor_then_the_beacon_records_the_visit(client):
    jane, _ = ContactStore().upsert_by_email("jane@example.com", {})
    body = json.dumps({"url": "https://example.com/webinar/live?am_c=x", "page": "live", "funnel": "webinars",
                       "token": visitor_token(jane.id)})

    response = client.post("/t/visit", data=body, content_type="text/plain;charset=UTF-8",
                           headers={"Origin": "https://example.com"})

    assert response.status_code == 204
    (visit,) = ContactStore().events(jane.id, "page.visited")
    assert visit.detail == {"url": "https://example.com/webinar/live", "page": "live", "funnel": "webinars"}


def test_given_a_signed_event_then_the_ingestion_route_records_it(client):
    body = json.dumps({"id": "evt-local-1", "type": "course.started", "email": "kim@example.com",
                       "occurred_at": "2026-11-23T08:30:00Z", "course": "copywriting-basics"}).encode()
    signed = signature(secrets.get(os.environ["INGEST_SECRET_ARN"]), body, int(clock.now().timestamp()))

    response = client.post("/ingest/events", data=body, content_type="application/json",
                           headers={"Automaps-Signature": signed})
    unsigned = client.post("/ingest/events", data=body, content_type="application/json")

    assert response.status_code == 200 and response.json["accepted"] == 1
    assert unsigned.status_code == 401
    kim = ContactStore().find_by_email("kim@example.com")
    assert [e.detail for e in ContactStore().events(kim.id, "course.started")] == [{"course": "copywriting-basics"}]


def test_given_the_local_signing_endpoint_then_what_it_signs_is_accepted_at_virtual_time(client):
    body = json.dumps({"id": "evt-local-2", "type": "account.active", "email": "kim@example.com",
                       "occurred_at": "2026-11-23T08:45:00Z", "platform": "trainingjet"}).encode()

    signed = client.post("/_local/ingest/sign", data=body).get_data(as_text=True)
    response = client.post("/ingest/events", data=body, content_type="application/json",
                           headers={"Automaps-Signature": signed})

    assert signed.startswith(f"t={int(START.timestamp())},v1=")
    assert response.status_code == 200 and response.json["accepted"] == 1
