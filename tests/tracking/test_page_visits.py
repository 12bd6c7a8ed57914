"""Page visits: the beacon the snippet sends records page.visited for identified visitors only,
with the page's address cut to scheme, host and path; the snippet itself is served as JavaScript."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from automaps import aws as aws_clients
from automaps import config
from automaps.channels.tracking import unsubscribe_token, visitor_token
from automaps.store.contacts import Contact, ContactStore

from functions.page_visits import app
from tests.conftest import load_event


@pytest.fixture
def jane(aws, clock) -> Contact:
    """GIVEN Jane, a contact who clicked a tracked link (so her browser holds her visitor token)."""
    contact, _ = ContactStore().upsert_by_email("jane@example.com", {"first_name": "Jane"})
    return contact


def beacon(lambda_context, token: str | None, **fields: Any) -> dict:
    """WHEN the snippet on a page sends its beacon (text/plain, as navigator.sendBeacon does)."""
    event = load_event("page_visit.json")
    body = {**json.loads(event["body"]), "token": token, **fields}
    event["body"] = json.dumps({k: v for k, v in body.items() if v is not None})
    return app.lambda_handler(event, lambda_context)


def visits(contact: Contact) -> list:
    return ContactStore().events(contact.id, "page.visited")


def item_count() -> int:
    return aws_clients.client("dynamodb").scan(TableName=config.contacts_table(), Select="COUNT")["Count"]


def header(response: dict, name: str) -> str | None:
    single = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    multi = {k.lower(): v for k, v in (response.get("multiValueHeaders") or {}).items()}
    return single.get(name.lower()) or (multi.get(name.lower()) or [None])[0]


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# ------------------------------------------------------------------ recorded


def test_given_an_identified_visitor_when_the_beacon_arrives_then_the_visit_is_recorded_without_query(
        jane, lambda_context, clock):
    response = beacon(lambda_context, visitor_token(jane.id),
                      url="HTTPS://Example.COM:443/webinar/live?am_c=secret&email=jane%40example.com#replay")

    assert response["statusCode"] == 204
    (visit,) = visits(jane)
    assert visit.detail == {"url": "https://example.com/webinar/live", "page": "live", "funnel": "webinars",
                            "referrer": "https://mail.example.net/"}
    assert visit.at == clock.now() and visit.map_id is None and visit.step_id is None
    assert header(response, "Access-Control-Allow-Origin") == "*"


def test_given_a_page_without_page_or_funnel_then_the_visit_has_just_the_url(jane, lambda_context):
    beacon(lambda_context, visitor_token(jane.id), url="http://shop.example.com:8080/cart", page="", funnel=None,
           referrer="android-app://com.google.android.gm/")

    (visit,) = visits(jane)
    assert visit.detail == {"url": "http://shop.example.com:8080/cart", "page": None, "funnel": None}


def test_given_a_script_posting_json_then_it_is_a_visit_too(jane, lambda_context):
    event = load_event("page_visit.json")
    event["headers"]["Content-Type"] = event["multiValueHeaders"]["Content-Type"][0] = "application/json"
    event["body"] = json.dumps({"url": "https://example.com/", "token": visitor_token(jane.id)})

    assert app.lambda_handler(event, lambda_context)["statusCode"] == 204
    assert [v.detail["url"] for v in visits(jane)] == ["https://example.com/"]


def test_given_two_page_views_then_both_are_recorded_in_order(jane, lambda_context, clock):
    token = visitor_token(jane.id)
    beacon(lambda_context, token, url="https://example.com/webinar/register", page="register")
    clock.advance(minutes=3)
    beacon(lambda_context, token, url="https://example.com/webinar/live", page="live")

    assert [v.detail["page"] for v in visits(jane)] == ["register", "live"]


# ------------------------------------------------------------------ not recorded: 204 all the same


def test_given_no_token_when_the_beacon_arrives_then_nothing_is_recorded(jane, lambda_context):
    before = item_count()

    response = beacon(lambda_context, None)

    assert response["statusCode"] == 204 and response["body"] == ""
    assert item_count() == before


def forged_token(contact_id: str) -> str:
    payload = b64(json.dumps({"p": "visitor", "iat": 1795000000, "d": {"c": contact_id}}).encode())
    return f"{payload}.{b64(hmac.new(b'not-our-secret', payload.encode(), hashlib.sha256).digest())}"


def tampered_token(genuine_for: str, names: str) -> str:
    """A genuine token of one contact whose payload was changed to name another."""
    signature = visitor_token(genuine_for).split(".")[1]
    payload = b64(json.dumps({"d": {"c": names}, "iat": 1795000000, "p": "visitor"},
                             separators=(",", ":"), sort_keys=True).encode())
    return f"{payload}.{signature}"


@pytest.mark.parametrize("make", [
    pytest.param(lambda jane: forged_token(jane.id), id="forged with another key"),
    pytest.param(lambda jane: tampered_token("c_someone_else", jane.id), id="tampered payload"),
    pytest.param(lambda jane: visitor_token(jane.id)[:-2] + "AA", id="signature cut"),
    pytest.param(lambda jane: unsubscribe_token(jane.id), id="another purpose"),
    pytest.param(lambda jane: visitor_token("c_nobody"), id="names no contact"),
    pytest.param(lambda jane: "garbage", id="garbage"),
    pytest.param(lambda jane: "x" * 5000, id="very long"),
])
def test_given_a_token_that_is_not_genuinely_ours_when_the_beacon_arrives_then_nothing_is_recorded_and_the_answer_is_the_same(
        jane, lambda_context, make):
    before = item_count()

    response = beacon(lambda_context, make(jane))

    assert response["statusCode"] == 204 and response["body"] == ""
    assert visits(jane) == [] and item_count() == before


# ------------------------------------------------------------------ not a visit: 400 naming the field


@pytest.mark.parametrize(("fields", "field", "says"), [
    ({"url": "javascript:alert(1)"}, "url", "http or https"),
    ({"url": "ftp://example.com/file"}, "url", "http or https"),
    ({"url": "https:///no-host"}, "url", "host"),
    ({"url": "https://example.com/" + "a" * 2048}, "url", "2048"),
    ({"url": None}, "url", "is required"),
    ({"page": "<script>"}, "page", "letters, digits"),
    ({"funnel": "f" * 101}, "funnel", "letters, digits"),
])
def test_given_something_that_is_not_a_page_visit_then_400_names_the_field_and_nothing_is_recorded(
        jane, lambda_context, fields, field, says):
    before = item_count()

    response = beacon(lambda_context, visitor_token(jane.id), **fields)

    assert response["statusCode"] == 400
    (error,) = json.loads(response["body"])["errors"]
    assert error["field"] == field and says in error["error"]
    assert item_count() == before


@pytest.mark.parametrize(("body", "status", "says"), [("not json", 400, "not valid JSON"),
                                                      ("[1, 2]", 400, "JSON object"),
                                                      ("x" * 9000, 413, "larger than 8192 bytes")])
def test_given_a_body_that_is_not_a_visit_then_4xx_says_why(aws, lambda_context, body, status, says):
    event = load_event("page_visit.json")
    event["body"] = body

    response = app.lambda_handler(event, lambda_context)

    assert response["statusCode"] == status
    assert says in json.loads(response["body"])["errors"][0]["error"]


# ------------------------------------------------------------------ the snippet and CORS


def test_given_a_page_loading_the_snippet_then_it_is_served_as_cacheable_javascript(aws, lambda_context):
    response = app.lambda_handler(load_event("page_snippet.json"), lambda_context)

    assert response["statusCode"] == 200
    assert header(response, "Content-Type") == "text/javascript; charset=utf-8"
    assert header(response, "Cache-Control") == "public, max-age=3600"
    assert response["body"].startswith("/* automaps page tracking") and "am_c" in response["body"]


def test_given_a_browser_preflight_for_a_json_post_then_cors_allows_any_site(aws, lambda_context):
    response = app.lambda_handler(load_event("page_visit_preflight.json"), lambda_context)

    assert response["statusCode"] == 204
    assert header(response, "Access-Control-Allow-Origin") == "*"
    assert "POST" in header(response, "Access-Control-Allow-Methods")
    assert "Content-Type" in header(response, "Access-Control-Allow-Headers")
