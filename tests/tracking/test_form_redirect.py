"""After an HTML form post, a form with identify_visitor sends the browser to its thank-you page
with am_c=<visitor token>, so the snippet there knows who is visiting from then on."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from automaps.channels.tracking import BadToken, read_visitor
from automaps.store.contacts import ContactStore
from automaps.store.content import ContentStore

from functions.public_api import app
from tests.conftest import ROOT, load_event


@pytest.fixture
def forms(aws, clock):
    """GIVEN the webinar form (identify_visitor) and the newsletter form (not) are deployed."""
    for name in ("webinar", "newsletter"):
        ContentStore().put("FORM", name, yaml.safe_load((ROOT / f"content/forms/{name}.yaml").read_text()))


def post_webinar_form(lambda_context, body: str) -> dict:
    event = load_event("form_post_urlencoded.json")
    event.update(path="/forms/webinar", pathParameters={"form_id": "webinar"}, body=body)
    return app.lambda_handler(event, lambda_context)


def location(response: dict) -> str:
    return (response.get("headers") or {}).get("Location") or response["multiValueHeaders"]["Location"][0]


REGISTRATION = "email=kim%40example.com&first_name=Kim&webinar_at=2026-12-01T18%3A00%3A00Z&website="


def test_given_a_form_that_identifies_visitors_when_a_browser_posts_it_then_the_thank_you_url_carries_the_token(
        forms, lambda_context):
    response = post_webinar_form(lambda_context, REGISTRATION)

    assert response["statusCode"] == 303
    address = urlsplit(location(response))
    assert (address.scheme, address.netloc, address.path) == ("https", "example.com", "/webinar/registered")
    (token,) = parse_qs(address.query)["am_c"]
    assert read_visitor(token) == ContactStore().find_by_email("kim@example.com").id


def test_given_a_bot_filling_the_honeypot_then_its_redirect_looks_the_same_but_names_no_one(forms, lambda_context):
    response = post_webinar_form(lambda_context, REGISTRATION.replace("website=", "website=spam"))

    assert response["statusCode"] == 303
    (token,) = parse_qs(urlsplit(location(response)).query)["am_c"]
    contact_id = read_visitor(token)  # genuinely signed, like a real one ...
    assert ContactStore().get(contact_id) is None  # ... naming no contact: its visits record nothing
    assert ContactStore().find_by_email("kim@example.com") is None


def test_given_a_form_without_identify_visitor_then_the_thank_you_url_is_unchanged(forms, lambda_context):
    response = app.lambda_handler(load_event("form_post_urlencoded.json"), lambda_context)

    assert location(response) == "https://example.com/thanks"


def test_given_a_thank_you_url_with_a_query_then_the_token_is_added_to_it(forms, lambda_context):
    form = yaml.safe_load((ROOT / "content/forms/webinar.yaml").read_text())
    ContentStore().put("FORM", "webinar", {**form, "thank_you_url": "https://example.com/t?x=1&am_c=old#top"})

    address = urlsplit(location(post_webinar_form(lambda_context, REGISTRATION)))

    query = parse_qs(address.query)
    assert query["x"] == ["1"] and len(query["am_c"]) == 1 and query["am_c"][0] != "old"
    assert address.fragment == "top"
    with pytest.raises(BadToken):
        read_visitor("old")


def test_given_a_script_posting_json_then_the_answer_is_unchanged(forms, lambda_context):
    event = load_event("form_post_json.json")
    event.update(path="/forms/webinar", pathParameters={"form_id": "webinar"}, body=json.dumps(
        {"email": "kim@example.com", "first_name": "Kim", "webinar_at": "2026-12-01T18:00:00Z"}))

    response = app.lambda_handler(event, lambda_context)

    assert response["statusCode"] == 202 and set(json.loads(response["body"])) == {"enrollments", "status", "submission_id"}
