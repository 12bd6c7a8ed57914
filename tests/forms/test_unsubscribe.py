"""One-click unsubscribe (RFC 8058): the link in every marketing email and its List-Unsubscribe header."""

from __future__ import annotations

import pytest

from automaps.channels.tracking import unsubscribe_token
from automaps.store.contacts import ContactStore
from functions.public_api import app
from tests.conftest import load_event


@pytest.fixture
def contact(aws):
    """GIVEN a subscribed contact."""
    found, _ = ContactStore().upsert_by_email("reader@example.com", {"first_name": "Rea"})
    return found


def call(method: str, token: str, lambda_context) -> dict:
    event = load_event("unsubscribe_one_click.json")
    event["httpMethod"] = event["requestContext"]["httpMethod"] = method
    event["queryStringParameters"] = {"t": token}
    event["multiValueQueryStringParameters"] = {"t": [token]}
    return app.lambda_handler(event, lambda_context)


def test_given_a_valid_link_when_a_mail_client_posts_one_click_then_the_contact_is_unsubscribed(
        contact, lambda_context):
    response = call("POST", unsubscribe_token(contact.id, "email"), lambda_context)

    assert response["statusCode"] == 200
    assert ContactStore().require(contact.id).unsubscribed == {"email"}
    assert [h.detail for h in ContactStore().history(contact.id, kinds=["unsubscribed"])] == [{"channel": "email"}]


def test_given_a_valid_link_when_it_is_opened_with_get_then_only_a_confirmation_page_is_shown(
        contact, lambda_context):
    response = call("GET", unsubscribe_token(contact.id, "email"), lambda_context)

    assert response["statusCode"] == 200
    assert "<form method=\"post\"" in response["body"]
    assert ContactStore().require(contact.id).unsubscribed == set()


def test_given_a_tampered_token_when_posted_then_it_is_refused_and_nothing_changes(contact, lambda_context):
    token = unsubscribe_token(contact.id, "email")
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")

    response = call("POST", tampered, lambda_context)

    assert response["statusCode"] == 400
    assert ContactStore().require(contact.id).unsubscribed == set()
    assert ContactStore().history(contact.id, kinds=["unsubscribed"]) == []


def test_given_the_same_link_when_posted_twice_then_it_is_recorded_once(contact, lambda_context):
    token = unsubscribe_token(contact.id, "email")
    call("POST", token, lambda_context)
    call("POST", token, lambda_context)

    assert len(ContactStore().history(contact.id, kinds=["unsubscribed"])) == 1
