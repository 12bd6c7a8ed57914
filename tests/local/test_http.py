"""The HTTP front: requests become API Gateway REST proxy events and proxy responses HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from werkzeug.test import Client

from automaps_local.http import LocalApi
from automaps_local.runtime import LocalRuntime

from tests.local.conftest import FIXTURES

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalRuntime]:
    with LocalRuntime(FIXTURES / "template.yaml", start=START) as rt:
        yield rt


@pytest.fixture
def client(runtime: LocalRuntime) -> Client:
    """GIVEN the fixture stack behind the HTTP front; its form route echoes the event it gets."""
    return Client(LocalApi(runtime))


def echoed(response) -> dict:
    assert response.status_code == 200, response.get_data(as_text=True)
    return json.loads(response.get_data(as_text=True))["event"]


def test_given_a_json_form_post_then_the_handler_gets_a_rest_proxy_event(client):
    response = client.post("/forms/newsletter", json={"email": "jane@example.com"},
                           headers={"User-Agent": "curl/8.5.0", "Accept": "application/json"})

    event = echoed(response)
    assert (event["httpMethod"], event["path"], event["resource"]) == ("POST", "/forms/newsletter", "/forms/{form_id}")
    assert event["pathParameters"] == {"form_id": "newsletter"}
    assert event["headers"]["Content-Type"] == "application/json"
    assert event["multiValueHeaders"]["Accept"] == ["application/json"]
    assert json.loads(event["body"]) == {"email": "jane@example.com"} and event["isBase64Encoded"] is False
    assert event["queryStringParameters"] is None and event["multiValueQueryStringParameters"] is None
    context = event["requestContext"]
    assert (context["stage"], context["path"], context["resourcePath"]) == ("v1", "/v1/forms/newsletter", "/forms/{form_id}")
    assert context["identity"]["sourceIp"] == "127.0.0.1" and context["identity"]["userAgent"] == "curl/8.5.0"
    assert context["requestId"] and context["requestTimeEpoch"] == int(START.timestamp() * 1000)


def test_given_an_urlencoded_form_post_then_the_body_arrives_as_sent(client):
    body = "email=sam%40example.org&first_name=Sam&website="

    event = echoed(client.post("/forms/newsletter?src=ad&src=mail", data=body,
                               content_type="application/x-www-form-urlencoded"))

    assert event["body"] == body and event["isBase64Encoded"] is False
    assert event["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert event["queryStringParameters"] == {"src": "mail"}
    assert event["multiValueQueryStringParameters"] == {"src": ["ad", "mail"]}


def test_given_the_stage_prefix_then_the_same_route_matches(client):
    assert echoed(client.post("/v1/forms/webinar", json={}))["pathParameters"] == {"form_id": "webinar"}


def test_given_a_binary_body_then_it_is_passed_base64_encoded(client):
    event = echoed(client.post("/forms/x", data=b"\xff\xfe\x00", content_type="application/octet-stream"))

    assert event["isBase64Encoded"] is True and event["body"] == "//4A"


def test_given_a_proxy_response_with_headers_then_they_become_http_headers(client):
    response = client.get("/page")

    assert response.status_code == 200 and response.get_data(as_text=True) == "<p>hello</p>"
    assert response.headers["Content-Type"] == "text/html"
    assert response.headers.getlist("Set-Cookie") == ["a=1", "b=2"]


def test_given_a_base64_proxy_response_then_the_bytes_are_sent(client):
    response = client.post("/forms/x?binary=1", json={})

    assert response.status_code == 201 and response.get_data() == b"\x00\x01\xff"


def test_given_a_handler_that_raises_then_api_gateway_answers_502(client):
    response = client.post("/forms/x?explode=1", json={})

    assert response.status_code == 502 and response.json == {"message": "Internal server error"}


@pytest.mark.parametrize(("method", "path"), [("GET", "/nowhere"), ("DELETE", "/forms/newsletter"), ("POST", "/forms")])
def test_given_an_unknown_route_then_api_gateway_answers_missing_authentication_token(client, method, path):
    response = client.open(path, method=method)

    assert response.status_code == 403 and response.json == {"message": "Missing Authentication Token"}


# ---------------------------------------------------------------------- /_local/
def test_given_the_clock_endpoints_then_virtual_time_can_be_read_and_advanced(client, runtime):
    before = client.get("/_local/clock").json
    assert before["mode"] == "discrete" and before["now"] == "2026-11-23T09:00:00Z"

    after = client.post("/_local/clock/advance?seconds=3600").json

    assert after["now"] == "2026-11-23T10:00:00Z"
    assert client.post("/_local/clock/advance").status_code == 400
    runtime.clock.rebase(START)


def test_given_a_contact_then_the_contacts_endpoint_shows_tags_and_timeline(client, runtime, put_contact):
    put_contact("c9", "kim@example.com")
    runtime.invoke("StepFunction", {"contact_id": "c9", "step_id": "welcome"})

    found = client.get("/_local/contacts?email=kim@example.com").json

    assert found["contact_id"] == "c9" and found["tags"] == ["lead"]
    assert [(h["at"], h["kind"], h["step_id"]) for h in found["history"]] == [("2026-11-23T09:00:00Z", "step.done", "welcome")]
    assert client.get("/_local/contacts?email=nobody@example.com").status_code == 404
    assert client.get("/_local/contacts").status_code == 400


def test_given_the_outbox_and_executions_endpoints_then_they_answer_json(client):
    assert set(client.get("/_local/outbox").json) == {"emails", "sms"}
    assert isinstance(client.get("/_local/executions").json, list)
    assert client.get("/_local/nothing").status_code == 404


def test_given_a_request_that_starts_a_map_then_the_execution_runs_on_the_virtual_clock(client, runtime):
    response = client.post("/start/demo", json={"name": "demo-http", "contact_id": "c7"})

    assert response.status_code == 202
    assert runtime.clock.wait_finished(timeout=20)  # auto-advance: the two-day wait took no real time
    [execution] = [e for e in runtime.executions("demo") if e["name"] == "demo-http"]
    assert execution["status"] == "SUCCEEDED"
    assert (execution["stopped_at"] - execution["started_at"]).days == 2
