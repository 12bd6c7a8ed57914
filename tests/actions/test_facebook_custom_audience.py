"""facebook_custom_audience: the contact's normalised, SHA-256 hashed email and phone are added to
(or removed from) a custom audience through the Marketing API, against a local stand-in for
graph.facebook.com that answers like it, errors included."""

from __future__ import annotations

import hashlib
import json

import pytest
from pydantic import ValidationError

from automaps import aws as aws_clients
from automaps.actions.facebook_custom_audience import (
    FacebookConnection,
    Settings,
    normalise_email,
    normalise_phone,
)
from automaps.store.connections import validate
from automaps.store.content import ContentStore
from automaps.journeys.steps import TransientError
from functions.facebook_custom_audience import app
from tests.actions.conftest import event_for, kinds
from tests.actions.endpoint import Answer, serving

AUDIENCE = "23851234567890123"
TOKEN = "EAAB-test-token"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def graph(request) -> Answer:
    """Answers like the Graph API's /<audience>/users edge."""
    fields = request.form()
    if fields.get("access_token") != TOKEN:
        return Answer(400, {"error": {"message": "Invalid OAuth access token - Cannot parse access token",
                                      "type": "OAuthException", "code": 190, "fbtrace_id": "AbCdEf"}})
    rows = json.loads(fields["payload"])["data"]
    return Answer(200, {"audience_id": AUDIENCE, "session_id": "9778993", "num_received": len(rows),
                        "num_invalid_entries": 0, "invalid_entry_samples": {}})


@pytest.fixture
def facebook(aws):
    """GIVEN a 'facebook' connection whose api_base is a local stand-in for graph.facebook.com."""
    with serving() as server:
        server.answer(graph)
        arn = aws_clients.client("secretsmanager").create_secret(
            Name="automaps/facebook", SecretString=json.dumps({"access_token": TOKEN}))["ARN"]
        ContentStore().put("CONNECTION", "facebook", validate({
            "type": "facebook", "secret_arn": arn, "api_base": server.url, "api_version": "v21.0",
            "default_country": "US"}).model_dump(mode="json"))
        yield server


def run(contact, lambda_context, **settings) -> dict:
    return app.lambda_handler(event_for("facebook_custom_audience", contact,
                                        settings={"audience_id": AUDIENCE, **settings}), lambda_context)


# ------------------------------------------------------------------ adding and removing


def test_given_a_contact_when_added_then_hashed_normalised_email_and_phone_are_posted(
        facebook, store, contact, lambda_context):
    store.update_fields(contact.id, {"email": "  Jane@Example.com ", "phone": "+1 (415) 555-0134"})

    result = run(contact, lambda_context)

    assert result["outcome"] == "done"
    [request] = facebook.received
    assert (request.method, request.route) == ("POST", f"/v21.0/{AUDIENCE}/users")
    payload = json.loads(request.form()["payload"])
    assert payload == {"schema": ["EMAIL_SHA256", "PHONE_SHA256"],
                       "data": [[sha("jane@example.com"), sha("14155550134")]]}
    [entry] = store.history(contact.id, ["audience.updated"])
    assert entry.detail == {"operation": "add", "audience_id": AUDIENCE, "matched_on": ["email", "phone"],
                            "num_received": 1, "num_invalid_entries": 0, "email": "j***@example.com"}
    assert TOKEN not in json.dumps([e.detail for e in store.history(contact.id)])


def test_given_a_contact_when_removed_then_the_same_call_is_a_delete(facebook, contact, lambda_context):
    result = run(contact, lambda_context, operation="remove")

    assert result["detail"]["operation"] == "remove"
    [request] = facebook.received
    assert request.method == "DELETE"
    assert json.loads(request.form()["payload"])["data"] == [[sha("jane@example.com"), ""]]


def test_given_a_phone_without_country_code_when_added_then_the_connection_default_country_completes_it(
        facebook, store, lambda_context):
    bo, _ = store.upsert_by_email("bo@example.com", {"phone": "(415) 555-0134"})

    run(bo, lambda_context)

    assert json.loads(facebook.received[0].form()["payload"])["data"][0][1] == sha("14155550134")


@pytest.mark.parametrize("raw, expected", [
    ("+44 20 7946 0958", "442079460958"), ("0044 20 7946 0958", "442079460958"),
    ("415.555.0134", "14155550134"), ("", None), ("12", None)])
def test_given_phone_spellings_when_normalised_then_digits_with_country_code_remain(raw, expected):
    assert normalise_phone(raw, "US") == expected


def test_given_email_spellings_when_normalised_then_they_are_trimmed_and_lowercased():
    assert normalise_email("  Jane.Doe@Example.COM\t") == "jane.doe@example.com"


def test_given_the_same_task_event_twice_when_run_then_facebook_is_called_once(facebook, contact, lambda_context):
    event = event_for("facebook_custom_audience", contact, settings={"audience_id": AUDIENCE})

    assert app.lambda_handler(event, lambda_context) == app.lambda_handler(event, lambda_context)
    assert len(facebook.received) == 1


# ------------------------------------------------------------------ skipping and failing


def test_given_a_contact_without_email_or_phone_when_run_then_it_is_skipped_and_nothing_sent(
        facebook, lambda_context):
    from tests.actions.sending import a_contact

    nobody = a_contact(email=None, first_name="Nobody")

    result = run(nobody, lambda_context)

    assert (result["outcome"], result["reason"]) == ("skipped",
                                                     "the contact has no email address or phone number to match on")
    assert facebook.received == []


def test_given_an_expired_token_when_run_then_the_failure_is_recorded_without_retry(
        facebook, store, contact, lambda_context):
    facebook.answer(Answer(400, {"error": {"message": "Error validating access token: Session has expired",
                                           "type": "OAuthException", "code": 190, "error_subcode": 463,
                                           "fbtrace_id": "AbC"}}))

    result = run(contact, lambda_context)

    assert result["outcome"] == "failed"
    assert result["reason"] == "Facebook answered 400 (code 190/463): Error validating access token: Session has expired"
    assert "audience.updated" not in kinds(store, contact)


@pytest.mark.parametrize("status, error", [
    (400, {"message": "(#17) User request limit reached", "type": "OAuthException", "code": 17}),
    (400, {"message": "(#613) Calls to this api have exceeded the rate limit.", "type": "OAuthException",
           "code": 613}),
    (500, {"message": "An unknown error has occurred.", "type": "OAuthException", "code": 1,
           "is_transient": True}),
    (503, {"message": "Service temporarily unavailable", "type": "FacebookApiException", "code": 2}),
])
def test_given_rate_limits_or_server_errors_when_run_then_the_state_retries(facebook, contact, lambda_context,
                                                                            status, error):
    facebook.answer(Answer(status, {"error": error}))

    with pytest.raises(TransientError, match=f"code {error['code']}"):
        run(contact, lambda_context)


def test_given_no_facebook_connection_when_run_then_the_step_fails_naming_the_file(aws, clock, contact,
                                                                                   lambda_context):
    result = run(contact, lambda_context, connection="fb-ads")

    assert result["outcome"] == "failed" and "content/connections/fb-ads.yaml" in result["reason"]


# ------------------------------------------------------------------ settings


@pytest.mark.parametrize("bad, message", [
    ({"audience_id": "abc"}, "String should match pattern"),
    ({"audience_id": AUDIENCE, "operation": "replace"}, "Input should be 'add' or 'remove'"),
    ({}, "audience_id"),
])
def test_given_bad_settings_when_validated_then_they_are_rejected(bad, message):
    with pytest.raises(ValidationError, match=message):
        Settings.model_validate(bad)


def test_given_a_connection_with_a_plain_http_api_base_when_validated_then_only_local_stand_ins_pass():
    with pytest.raises(ValidationError, match="must be an https:// URL"):
        FacebookConnection.model_validate({"type": "facebook", "secret_arn": "arn:x",
                                           "api_base": "http://graph.facebook.com"})
    assert FacebookConnection.model_validate({"type": "facebook", "secret_arn": "arn:x"}).api_base == \
        "https://graph.facebook.com"
