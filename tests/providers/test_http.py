"""The providers' shared JSON client, against a real HTTP server on 127.0.0.1: what it sends and
how each kind of answer is classified (4xx: a recorded failure; 429/409/5xx/unreachable: retry)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from automaps.providers.http import JsonClient, ProviderError
from automaps.journeys.steps import PermanentError, TransientError
from tests.providers.server import FakeProvider, Received, serving


class Echo(FakeProvider):
    def handle(self, request: Received) -> tuple[int, Any]:
        return 200, {"ok": True}


@pytest.fixture
def echo() -> Iterator[Echo]:
    with serving(Echo()) as fake:
        yield fake


def client(fake: FakeProvider) -> JsonClient:
    return JsonClient("Acme", fake.url + "/", {"Authorization": "Bearer k"})


def test_given_nested_form_values_when_posted_then_they_use_bracket_notation(echo):
    client(echo).request("POST", "/v1/things", form={"a": {"b": 1}, "tags": ["x", "y"], "on": True, "none": None})

    [sent] = echo.received
    assert sent.form == [("a[b]", "1"), ("tags[]", "x"), ("tags[]", "y"), ("on", "true")]
    assert sent.header("Content-Type") == "application/x-www-form-urlencoded"
    assert (sent.header("Authorization"), sent.header("Accept")) == ("Bearer k", "application/json")


def test_given_a_json_body_and_a_query_when_sent_then_both_arrive(echo):
    answer = client(echo).request("PUT", "/x", query={"q": "a b"}, json_body={"n": 1})

    [sent] = echo.received
    assert answer == {"ok": True}
    assert (sent.query, json.loads(sent.body)) == ([("q", "a b")], {"n": 1})


@pytest.mark.parametrize("status", [408, 409, 429, 500, 503])
def test_given_a_retryable_status_when_answered_then_it_is_transient(echo, status):
    echo.fail_next("GET", "/x", status, {"error": {"message": "later"}})

    with pytest.raises(TransientError, match=f"Acme answered {status} to GET /x: later"):
        client(echo).request("GET", "/x")


def test_given_a_4xx_with_a_non_json_body_when_answered_then_it_is_a_provider_error_with_its_text(echo):
    echo.fail_next("GET", "/x", 403, "Forbidden by the firewall")

    with pytest.raises(ProviderError) as refused:
        client(echo).request("GET", "/x")

    assert isinstance(refused.value, PermanentError) and refused.value.status == 403
    assert refused.value.reason == "Acme answered 403: Forbidden by the firewall"


def test_given_a_redirect_when_answered_then_it_is_not_followed_and_says_what_to_change(echo):
    echo.fail_next("GET", "/x", 301, {}, headers={"Location": "https://elsewhere.example/x"})

    with pytest.raises(ProviderError, match="redirected to https://elsewhere.example/x; set the connection"):
        client(echo).request("GET", "/x")
    assert len(echo.received) == 1
