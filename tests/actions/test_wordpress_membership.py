"""grant_wordpress_membership / revoke_wordpress_membership: the WordPress user with the contact's
email (a fake WordPress on 127.0.0.1) gets or loses the membership role, created when missing,
with its other roles kept; every reason not to act is recorded."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from automaps.actions.grant_wordpress_membership import Settings as GrantSettings
from automaps.actions.revoke_wordpress_membership import Settings as RevokeSettings
from automaps.journeys.steps import TransientError
from functions.grant_wordpress_membership import app as grant_app
from functions.revoke_wordpress_membership import app as revoke_app
from tests.actions.sending import a_contact, history, task_event
from tests.providers import fake_wordpress
from tests.providers.fake_wordpress import APP_PASSWORD, USERNAME
from tests.providers.fixtures import a_connection, a_secret, wordpress_site

GRANT, REVOKE = "grant_wordpress_membership.json", "revoke_wordpress_membership.json"


@pytest.fixture
def wordpress(aws, clock) -> Iterator[fake_wordpress.FakeWordPress]:
    with wordpress_site() as fake:
        yield fake


def grant(event: dict, lambda_context) -> dict:
    return grant_app.lambda_handler(event, lambda_context)


def revoke(event: dict, lambda_context) -> dict:
    return revoke_app.lambda_handler(event, lambda_context)


# ------------------------------------------------------------------ grant

def test_given_no_wordpress_user_when_access_is_granted_then_a_member_user_is_created_and_recorded(
        wordpress, lambda_context):
    jane = a_contact(first_name="Jane", last_name="Doe")

    result = grant(task_event(GRANT, jane), lambda_context)

    assert result["outcome"] == "done"
    user = wordpress.by_email("jane.doe@example.com")
    assert (user["username"], user["roles"], user["first_name"], user["last_name"]) == \
        ("jane.doe@example.com", ["member"], "Jane", "Doe")
    assert len(user["_password"]) >= 24
    [entry] = history(jane, "wordpress.access_granted")
    assert entry.detail == {"connection": "members", "user_id": user["id"], "role": "member", "created": True,
                            "roles": ["member"]}
    assert (entry.map_id, entry.step_id) == ("membership-purchase", "grant-access")


def test_given_the_grant_when_it_calls_wordpress_then_it_uses_basic_auth_context_edit_and_json(
        wordpress, lambda_context):
    jane = a_contact(first_name="Jane")

    grant(task_event(GRANT, jane), lambda_context)

    basic = "Basic " + base64.b64encode(f"{USERNAME}:{APP_PASSWORD}".encode()).decode()
    assert {r.header("Authorization") for r in wordpress.received} == {basic}
    [search] = wordpress.requests("GET")
    assert dict(search.query) == {"search": "jane.doe@example.com", "context": "edit", "per_page": "100"}
    [create] = wordpress.requests("POST")
    assert create.path == "/wp-json/wp/v2/users" and create.header("Content-Type") == "application/json"
    assert json.loads(create.body)["roles"] == ["member"]
    assert APP_PASSWORD not in str(history(jane))


def test_given_an_existing_user_when_access_is_granted_then_the_role_is_added_and_others_kept(
        wordpress, lambda_context):
    jane = a_contact(first_name="Jane")
    wordpress.user("mary.jane.doe@example.com", ["subscriber"])   # WordPress's search matches it too
    user_id = wordpress.user("Jane.Doe@example.com", ["subscriber", "author"])

    result = grant(task_event(GRANT, jane), lambda_context)

    assert result["outcome"] == "done"
    assert wordpress.users[user_id]["roles"] == ["subscriber", "author", "member"]
    [update] = wordpress.requests("POST")
    assert update.path == f"/wp-json/wp/v2/users/{user_id}"
    assert history(jane, "wordpress.access_granted")[0].detail["created"] is False
    assert wordpress.by_email("mary.jane.doe@example.com")["roles"] == ["subscriber"]


def test_given_the_user_already_has_the_role_when_granted_then_it_is_skipped_without_a_change(
        wordpress, lambda_context):
    jane = a_contact(first_name="Jane")
    wordpress.user("jane.doe@example.com", ["member"])

    result = grant(task_event(GRANT, jane), lambda_context)

    assert (result["outcome"], result["reason"]) == ("skipped", "the WordPress user already has role 'member'")
    assert wordpress.requests("POST") == []


def test_given_a_contact_without_email_when_granted_then_it_is_skipped_and_wordpress_is_not_called(
        wordpress, lambda_context):
    sam = a_contact(email=None, first_name="Sam")

    result = grant(task_event(GRANT, sam), lambda_context)

    assert (result["outcome"], result["reason"]) == ("skipped", "the contact has no email address")
    assert wordpress.received == []


def test_given_a_role_the_site_does_not_have_when_granted_then_it_fails_with_wordpress_message_and_no_retry(
        wordpress, lambda_context):
    jane = a_contact(first_name="Jane")

    result = grant(task_event(GRANT, jane, settings={"connection": "members", "role": "platinum"}), lambda_context)

    assert result["outcome"] == "failed"
    assert result["reason"] == "WordPress answered 400: Sorry, you are not allowed to give users that role."
    assert history(jane, "wordpress.access_granted") == []
    [failed] = history(jane, "step.failed")
    assert failed.detail["code"] == "rest_user_invalid_role"


def test_given_a_wrong_application_password_when_granted_then_it_fails_without_the_password(
        wordpress, lambda_context):
    arn = a_secret("automaps/connections/members-old", json.dumps({"password": "old pass word"}))
    a_connection("members", {"type": "wordpress", "url": wordpress.url, "username": USERNAME, "secret_arn": arn})
    jane = a_contact(first_name="Jane")

    result = grant(task_event(GRANT, jane), lambda_context)

    assert result["reason"] == "WordPress answered 401: The provided password is an invalid application password."
    assert "old pass word" not in str(history(jane))


@pytest.mark.parametrize("status", [429, 500, 502])
def test_given_wordpress_fails_when_granted_then_it_is_transient_and_the_retry_creates_one_user(
        wordpress, lambda_context, status):
    jane = a_contact(first_name="Jane")
    wordpress.fail_next("POST", "/wp-json/wp/v2/users", status, {"code": "internal_server_error",
                                                                 "message": "There has been a critical error."})
    event = task_event(GRANT, jane)

    with pytest.raises(TransientError, match=f"WordPress answered {status}"):
        grant(event, lambda_context)
    assert grant(event, lambda_context)["outcome"] == "done"

    assert [u["email"] for u in wordpress.users.values()].count("jane.doe@example.com") == 1


def test_given_a_user_was_created_but_the_answer_was_lost_when_retried_then_no_second_user_is_created(
        wordpress, lambda_context):
    jane = a_contact(first_name="Jane")
    wordpress.fail_next("POST", "/wp-json/wp/v2/users", 504, {"code": "gateway_timeout", "message": "Timeout"},
                        after=True)
    event = task_event(GRANT, jane)

    with pytest.raises(TransientError):
        grant(event, lambda_context)
    result = grant(event, lambda_context)

    assert (result["outcome"], result["reason"]) == ("skipped", "the WordPress user already has role 'member'")
    assert [u["email"] for u in wordpress.users.values()].count("jane.doe@example.com") == 1


def test_given_the_same_task_event_twice_when_granted_then_wordpress_is_changed_once(wordpress, lambda_context):
    jane = a_contact(first_name="Jane")
    event = task_event(GRANT, jane)

    first, second = grant(event, lambda_context), grant(event, lambda_context)

    assert first == second
    assert len(wordpress.requests("POST")) == 1 and len(history(jane, "wordpress.access_granted")) == 1


# ------------------------------------------------------------------ revoke

def test_given_a_member_when_access_is_revoked_then_only_the_membership_role_is_removed_and_recorded(
        wordpress, lambda_context):
    jane = a_contact(first_name="Jane")
    user_id = wordpress.user("jane.doe@example.com", ["subscriber", "member"])

    result = revoke(task_event(REVOKE, jane), lambda_context)

    assert result["outcome"] == "done"
    assert wordpress.users[user_id]["roles"] == ["subscriber"]
    [entry] = history(jane, "wordpress.access_revoked")
    assert entry.detail == {"connection": "members", "user_id": user_id, "role": "member", "roles": ["subscriber"]}


def test_given_membership_was_the_only_role_when_revoked_then_the_fallback_role_is_given(wordpress, lambda_context):
    jane = a_contact(first_name="Jane")
    user_id = wordpress.user("jane.doe@example.com", ["member"])
    settings = {"connection": "members", "role": "member", "fallback_role": "subscriber"}

    revoke(task_event(REVOKE, jane, settings=settings), lambda_context)

    assert wordpress.users[user_id]["roles"] == ["subscriber"]


def test_given_no_wordpress_user_when_revoked_then_it_is_skipped_and_recorded(wordpress, lambda_context):
    jane = a_contact(first_name="Jane")

    result = revoke(task_event(REVOKE, jane), lambda_context)

    assert (result["outcome"], result["reason"]) == ("skipped", "no WordPress user has the contact's email")
    assert wordpress.requests("POST") == [] and wordpress.users.keys() == {1}
    assert len(history(jane, "step.skipped")) == 1


def test_given_a_user_without_the_role_when_revoked_then_it_is_skipped(wordpress, lambda_context):
    jane = a_contact(first_name="Jane")
    wordpress.user("jane.doe@example.com", ["subscriber"])

    result = revoke(task_event(REVOKE, jane), lambda_context)

    assert (result["outcome"], result["reason"]) == ("skipped", "the WordPress user does not have role 'member'")


def test_given_the_user_vanished_between_search_and_update_when_revoked_then_the_404_is_a_recorded_failure(
        wordpress, lambda_context):
    jane = a_contact(first_name="Jane")
    user_id = wordpress.user("jane.doe@example.com", ["member"])
    wordpress.fail_next("POST", f"/wp-json/wp/v2/users/{user_id}", 404, {
        "code": "rest_user_invalid_id", "message": "Invalid user ID.", "data": {"status": 404}})

    result = revoke(task_event(REVOKE, jane), lambda_context)

    assert (result["outcome"], result["reason"]) == ("failed", "WordPress answered 404: Invalid user ID.")


def test_given_the_same_task_event_twice_when_revoked_then_wordpress_is_changed_once(wordpress, lambda_context):
    jane = a_contact(first_name="Jane")
    wordpress.user("jane.doe@example.com", ["member"])
    event = task_event(REVOKE, jane)

    assert revoke(event, lambda_context) == revoke(event, lambda_context)
    assert len(wordpress.requests("POST")) == 1 and len(history(jane, "wordpress.access_revoked")) == 1


# ------------------------------------------------------------------ settings

def test_given_bad_settings_when_validated_then_they_are_refused_saying_what_to_change():
    with pytest.raises(ValidationError, match="must not grant or revoke 'administrator'"):
        GrantSettings(connection="members", role="administrator")
    with pytest.raises(ValidationError, match="not a WordPress role slug"):
        GrantSettings(connection="members", role="Gold Member")
    with pytest.raises(ValidationError, match="must not grant or revoke 'administrator'"):
        RevokeSettings(connection="members", role="member", fallback_role="administrator")
    with pytest.raises(ValidationError, match="role"):
        RevokeSettings.model_validate({"connection": "members"})
    assert GrantSettings(connection="members", role="gold_member").role == "gold_member"


def test_given_a_connection_of_another_type_when_granted_then_it_fails_naming_both(aws, clock, lambda_context):
    a_connection("members", {"type": "stripe", "secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:"
                                                             "secret:automaps/connections/x"})
    jane = a_contact(first_name="Jane")

    result = grant(task_event(GRANT, jane), lambda_context)

    assert result["outcome"] == "failed"
    assert result["reason"] == "connection 'members' is of type 'stripe', not a WordPress site (wordpress)"
