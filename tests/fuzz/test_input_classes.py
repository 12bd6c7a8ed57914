"""Every input class that made a public endpoint fail with a 5xx (issue 8, point 3) is answered
400 (413 for size) naming the field and the reason, and stores nothing: through each function's
real handler, API Gateway events from events/, on moto."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.fuzz.endpoints import Endpoints, as_json, deploy_forms, table_digest

NUMBERS = {  # JSON number texts Python or DynamoDB cannot take
    "NaN": "NaN", "Infinity": "Infinity", "-Infinity": "-Infinity",
    "over 4300 digits": "1" * 5000, "over 100 digits": "9" * 101,
}
DYNAMO_NUMBERS = {  # valid JSON, but not a number DynamoDB holds
    "1e308": "1e308", "1e-300": "1e-300", "1e126": "1e126", "39 significant digits": "1" * 39,
    "-1e-131": "-1e-131",
}


@pytest.fixture
def endpoints(aws, clock, lambda_context) -> Endpoints:
    """GIVEN the stack with its forms deployed, reached through API Gateway events."""
    deploy_forms()
    return Endpoints(lambda_context)


def form_json(value: str) -> str:
    return '{"email": "nasty@example.com", "first_name": "Nat", "age": ' + value + "}"


def visit_json(value: str) -> str:
    return '{"url": "https://example.com/live", "page": "live", "extra": ' + value + "}"


def ingest_json(value: str) -> str:
    return ('{"id": "evt_n", "type": "purchase.made", "email": "nasty@example.com", "product": "p1", '
            '"occurred_at": "2026-11-01T00:00:00Z", "currency": "USD", "order_id": "o1", "price": ' + value + "}")


POSTS: dict[str, Callable[[Endpoints, Any], dict]] = {
    "form": lambda e, body: e.form(body),
    "visit": lambda e, body: e.visit(body),
    "ingest": lambda e, body: e.ingest(body),
}
JSON_OF: dict[str, Callable[[str], str]] = {"form": form_json, "visit": visit_json, "ingest": ingest_json}


def rejected(response: dict, status: int = 400) -> list[dict[str, str]]:
    assert response["statusCode"] == status, response["body"][:300]
    body = as_json(response)
    return body["errors"] if "errors" in body else body["results"][0]["errors"]


@pytest.mark.parametrize("endpoint", POSTS)
@pytest.mark.parametrize("name", NUMBERS)
def test_given_a_json_number_python_cannot_take_when_posted_then_400_names_it_and_nothing_is_stored(
        endpoints, endpoint, name):
    before = table_digest()

    response = POSTS[endpoint](endpoints, JSON_OF[endpoint](NUMBERS[name]))

    (error,) = rejected(response)
    assert error["field"] == "body"
    assert any(word in error["error"] for word in ("is not a JSON value", "digits"))
    assert table_digest() == before


@pytest.mark.parametrize("name", DYNAMO_NUMBERS)
def test_given_a_form_number_dynamodb_cannot_hold_when_posted_then_400_names_the_field(endpoints, name):
    before = table_digest()

    response = endpoints.form(form_json(DYNAMO_NUMBERS[name]))

    (error,) = rejected(response)
    assert error["field"] == "age"
    assert "out of range" in error["error"] or "significant digits" in error["error"]
    assert table_digest() == before


def test_given_1e39_in_a_number_field_when_posted_then_it_is_stored_as_dynamodb_holds_it(endpoints, store):
    response = endpoints.form(form_json("1e39"))

    assert response["statusCode"] == 202
    assert store.find_by_email("nasty@example.com").fields["age"] == 10**39  # the text posted, exactly


BODIES: dict[str, bytes] = {
    "invalid UTF-8": b'{"email": "\xff\xfe@example.com", "url": "https://example.com/\xff"}',
    "latin-1": '{"email": "rene@example.com", "first_name": "René", "url": "https://example.com/René"}'.encode(
        "latin-1"),
}


@pytest.mark.parametrize("endpoint", POSTS)
@pytest.mark.parametrize("name", BODIES)
@pytest.mark.parametrize("content_type", ["application/json", "application/octet-stream"])
def test_given_a_body_that_is_not_utf8_when_posted_then_400_says_so(endpoints, endpoint, name, content_type):
    before = table_digest()
    post = {"form": endpoints.form, "visit": endpoints.visit, "ingest": endpoints.ingest}[endpoint]

    response = post(BODIES[name], content_type)  # bytes: base64-encoded as API Gateway does for binary

    (error,) = rejected(response)
    assert error["field"] in ("body", "content-type")
    assert "UTF-8" in error["error"] or "utf-8" in error["error"] or "not accepted" in error["error"]
    assert table_digest() == before


@pytest.mark.parametrize("endpoint", POSTS)
def test_given_a_body_marked_base64_that_is_not_when_posted_then_400_says_so(endpoints, endpoint):
    before = table_digest()
    post = {"form": endpoints.form, "visit": endpoints.visit,
            "ingest": lambda body, **kw: endpoints.ingest(body, signed=False, **kw)}[endpoint]

    response = post("!!not base64!!", base64_body=True)

    (error,) = rejected(response)
    assert error == {"field": "body", "error": "is marked base64-encoded but is not valid base64"}
    assert table_digest() == before


@pytest.mark.parametrize("endpoint", POSTS)
def test_given_a_lone_surrogate_in_the_body_when_posted_then_400_says_so(endpoints, endpoint):
    before = table_digest()

    response = POSTS[endpoint](endpoints, JSON_OF[endpoint]('"\ud800"'))

    (error,) = rejected(response)
    assert error["field"] == "body" and "lone surrogate" in error["error"]
    assert table_digest() == before


@pytest.mark.parametrize("endpoint", POSTS)
def test_given_json_nested_too_deeply_when_posted_then_400_says_how_deep(endpoints, endpoint):
    before = table_digest()
    for nested in ("[" * 40 + "]" * 40, "[" * 3000 + "]" * 3000):  # deeper than the limit; than Python's stack
        response = POSTS[endpoint](endpoints, JSON_OF[endpoint](nested))

        (error,) = rejected(response)
        assert error == {"field": "body", "error": "is nested more than 32 levels deep"}
    assert table_digest() == before


def test_given_more_than_200_urlencoded_fields_when_posted_then_413_names_the_limit(endpoints):
    before = table_digest()
    body = "&".join(f"f{i}=x" for i in range(250)) + "&email=many%40example.com"

    response = endpoints.form(body, "application/x-www-form-urlencoded")

    assert rejected(response, 413) == [{"field": "body", "error": "has more than 200 fields"}]
    assert table_digest() == before


@pytest.mark.parametrize(("endpoint", "limit"), [("form", 65_536), ("visit", 8_192), ("ingest", 1_000_000)])
def test_given_a_body_over_the_limit_when_posted_then_413_says_the_limit(endpoints, endpoint, limit):
    before = table_digest()
    filler = "x" * (limit + 1)

    response = POSTS[endpoint](endpoints, JSON_OF[endpoint](json.dumps(filler)))

    assert rejected(response, 413) == [{"field": "body", "error": f"is larger than {limit} bytes"}]
    assert table_digest() == before


def test_given_a_latin1_urlencoded_value_declared_as_latin1_when_posted_then_it_is_read_in_its_charset(
        endpoints, store):
    response = endpoints.form("email=rene%40example.com&first_name=Ren%E9",
                              "application/x-www-form-urlencoded; charset=ISO-8859-1")

    assert response["statusCode"] == 202
    assert store.find_by_email("rene@example.com").fields["first_name"] == "René"


def test_given_a_latin1_urlencoded_value_sent_as_utf8_when_posted_then_400_says_send_utf8(endpoints):
    before = table_digest()

    response = endpoints.form("email=rene%40example.com&first_name=Ren%E9", "application/x-www-form-urlencoded")

    (error,) = rejected(response)
    assert error["field"] == "body" and "send UTF-8" in error["error"]
    assert table_digest() == before


def test_given_an_unknown_charset_when_posted_then_400_names_the_content_type(endpoints):
    response = endpoints.form('{"email": "a@example.com"}', "application/json; charset=klingon")

    assert rejected(response) == [{"field": "content-type", "error": "charset 'klingon' is not known; send UTF-8"}]


@pytest.mark.parametrize("token", ["", "a.b.c", "%00\x00", "\ud800", "x" * 5000, base64.b64encode(b"\xff" * 30).decode()])
def test_given_a_forged_token_on_a_tracking_or_unsubscribe_link_then_the_answer_is_4xx_and_nothing_is_stored(
        endpoints, token):
    before = table_digest()

    answers = [endpoints.tracking("o", token), endpoints.tracking("c", token),
               endpoints.unsubscribe("GET", token), endpoints.unsubscribe("POST", token)]

    assert all(a["statusCode"] < 500 for a in answers), [a["statusCode"] for a in answers]
    assert [a["statusCode"] for a in answers[2:]] == [400, 400]
    assert table_digest() == before


def test_the_store_digest_of_these_tests_is_what_a_scan_of_the_table_returns(endpoints):
    from tests.fuzz.endpoints import scanned_digest

    endpoints.form('{"email": "digest@example.com", "first_name": "Di", "age": 3}')

    assert table_digest() == scanned_digest()
