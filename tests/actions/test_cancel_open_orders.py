"""cancel_open_orders: the contact's payment plans and recurring orders are cancelled at the
payment provider (a fake Stripe on 127.0.0.1), once, with what happened on the history."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from automaps.actions.cancel_open_orders import Settings
from automaps.providers.payments import StripeConnection
from automaps.journeys.steps import TransientError
from functions.cancel_open_orders import app
from tests.actions.sending import a_contact, history, task_event
from tests.providers import fake_stripe
from tests.providers.fake_stripe import API_KEY
from tests.providers.fixtures import a_connection, a_secret, stripe_account

EVENT = "cancel_open_orders.json"


@pytest.fixture
def stripe(aws, clock) -> Iterator[fake_stripe.FakeStripe]:
    with stripe_account() as fake:
        yield fake


def cancel(event: dict, lambda_context) -> dict:
    return app.lambda_handler(event, lambda_context)


# ------------------------------------------------------------------ cancelling

def test_given_a_customer_with_two_plans_when_the_step_runs_then_both_are_cancelled_and_recorded(
        stripe, lambda_context):
    jane = a_contact(first_name="Jane")
    customer = stripe.customer("jane.doe@example.com")
    gold, course = stripe.subscription(customer, "prod_gold"), stripe.subscription(customer, "prod_course", "past_due")
    stripe.subscription(customer, "prod_old", "canceled")

    result = cancel(task_event(EVENT, jane), lambda_context)

    assert result["outcome"] == "done"
    assert sorted(stripe.cancellations) == sorted([gold, course])
    [entry] = history(jane, "orders.cancelled")
    assert entry.detail == {"connection": "stripe", "customers": [customer], "cancelled": [gold, course]}
    assert (entry.map_id, entry.step_id) == ("membership-cancel", "cancel-orders")
    assert [e.kind for e in history(jane, "step.done")] == ["step.done"]


def test_given_the_step_when_it_calls_stripe_then_it_authenticates_searches_by_email_and_keys_each_cancel(
        stripe, lambda_context):
    jane = a_contact(first_name="Jane")
    sub = stripe.subscription(stripe.customer("jane.doe@example.com"))
    event = task_event(EVENT, jane)

    cancel(event, lambda_context)

    assert {r.header("Authorization") for r in stripe.received} == {f"Bearer {API_KEY}"}
    [search] = stripe.requests("GET", "/v1/customers/search")
    assert dict(search.query)["query"] == "email:'jane.doe@example.com'"
    [delete] = stripe.requests("DELETE")
    assert delete.path == f"/v1/subscriptions/{sub}"
    assert dict(delete.query) == {"cancellation_details[comment]": "automaps map membership-cancel, "
                                                                   "step cancel-orders"}
    key = delete.header("Idempotency-Key")
    assert key.endswith(f":cancel:{sub}") and len(key) < 255
    assert API_KEY not in str(history(jane))


def test_given_a_stored_customer_id_when_the_step_runs_then_it_is_used_without_searching(stripe, lambda_context):
    jane = a_contact(first_name="Jane", stripe_customer_id="cus_known")
    stripe.customer("someone-else@example.com", id_="cus_known")
    sub = stripe.subscription("cus_known")

    cancel(task_event(EVENT, jane), lambda_context)

    assert stripe.requests("GET", "/v1/customers/search") == []
    assert stripe.cancellations == [sub]


def test_given_a_products_filter_when_the_step_runs_then_only_those_orders_are_cancelled(stripe, lambda_context):
    jane = a_contact(first_name="Jane")
    customer = stripe.customer("jane.doe@example.com")
    gold = stripe.subscription(customer, "prod_gold")
    course = stripe.subscription(customer, "prod_course")

    cancel(task_event(EVENT, jane, settings={"connection": "stripe", "products": ["prod_gold"]}), lambda_context)

    assert stripe.cancellations == [gold]
    assert stripe.subscriptions[course]["status"] == "active"


# ------------------------------------------------------------------ nothing to cancel

def test_given_no_customer_at_stripe_when_the_step_runs_then_it_is_skipped_and_recorded(stripe, lambda_context):
    jane = a_contact(first_name="Jane")

    result = cancel(task_event(EVENT, jane), lambda_context)

    assert (result["outcome"], result["reason"]) == ("skipped", "no customer at the payment provider for this contact")
    assert stripe.requests("DELETE") == []
    assert history(jane, "orders.cancelled") == []
    [skipped] = history(jane, "step.skipped")
    assert skipped.detail["connection"] == "stripe"


def test_given_a_contact_without_email_or_customer_id_then_stripe_is_not_searched(stripe, lambda_context):
    sam = a_contact(email=None, first_name="Sam")

    result = cancel(task_event(EVENT, sam), lambda_context)

    assert result["outcome"] == "skipped"
    assert stripe.received == []


def test_given_a_customer_without_open_orders_when_the_step_runs_then_it_is_skipped(stripe, lambda_context):
    jane = a_contact(first_name="Jane")
    stripe.subscription(stripe.customer("jane.doe@example.com"), status="canceled")

    result = cancel(task_event(EVENT, jane), lambda_context)

    assert (result["outcome"], result["reason"]) == ("skipped", "the contact has no open orders")


# ------------------------------------------------------------------ provider errors

def test_given_stripe_refuses_a_cancel_when_the_step_runs_then_it_fails_with_stripes_message_and_no_retry(
        stripe, lambda_context):
    jane = a_contact(first_name="Jane")
    customer = stripe.customer("jane.doe@example.com")
    gone, kept = stripe.subscription(customer), stripe.subscription(customer, "prod_course")
    stripe.fail_next("DELETE", f"/v1/subscriptions/{gone}", 404, {"error": {
        "type": "invalid_request_error", "code": "resource_missing", "message": f"No such subscription: '{gone}'"}})

    result = cancel(task_event(EVENT, jane), lambda_context)

    assert result["outcome"] == "failed"
    assert f"Stripe answered 404: No such subscription: '{gone}'" in result["reason"]
    assert stripe.cancellations == [kept]
    [entry] = history(jane, "orders.cancelled")
    assert entry.detail["cancelled"] == [kept] and entry.detail["failed"][0]["id"] == gone
    assert len(history(jane, "step.failed")) == 1


def test_given_a_wrong_api_key_when_the_step_runs_then_it_fails_without_retry_and_without_the_key(
        stripe, lambda_context):

    arn = a_secret("automaps/connections/stripe-old", "sk_test_revoked")
    a_connection("stripe", {"type": "stripe", "api_base": stripe.url, "secret_arn": arn})
    jane = a_contact(first_name="Jane")

    result = cancel(task_event(EVENT, jane), lambda_context)

    assert result["outcome"] == "failed"
    assert result["reason"] == "Stripe answered 401: Invalid API Key provided: sk_test_****"
    assert "sk_test_revoked" not in str(history(jane))


@pytest.mark.parametrize("status, body", [
    (429, {"error": {"type": "invalid_request_error", "code": "rate_limit",
                     "message": "Too many requests hit the API too quickly."}}),
    (500, {"error": {"type": "api_error", "message": "Something went wrong on Stripe's end."}}),
])
def test_given_stripe_throttles_or_fails_when_the_step_runs_then_it_retries_and_the_retry_cancels_once(
        stripe, lambda_context, status, body):
    jane = a_contact(first_name="Jane")
    sub = stripe.subscription(stripe.customer("jane.doe@example.com"))
    stripe.fail_next("DELETE", f"/v1/subscriptions/{sub}", status, body)
    event = task_event(EVENT, jane)

    with pytest.raises(TransientError, match=f"Stripe answered {status}"):
        cancel(event, lambda_context)
    assert stripe.cancellations == []

    assert cancel(event, lambda_context)["outcome"] == "done"
    assert stripe.cancellations == [sub]
    keys = {r.header("Idempotency-Key") for r in stripe.requests("DELETE")}
    assert len(stripe.requests("DELETE")) == 2 and len(keys) == 1


def test_given_stripe_is_unreachable_when_the_step_runs_then_it_is_transient(aws, clock, lambda_context):

    arn = a_secret("automaps/connections/stripe", API_KEY)
    a_connection("stripe", {"type": "stripe", "api_base": "http://127.0.0.1:9", "secret_arn": arn})
    jane = a_contact(first_name="Jane")

    with pytest.raises(TransientError, match="Stripe could not be reached"):
        cancel(task_event(EVENT, jane), lambda_context)


def test_given_no_such_connection_when_the_step_runs_then_it_fails_naming_it(aws, clock, lambda_context):
    jane = a_contact(first_name="Jane")

    result = cancel(task_event(EVENT, jane, settings={"connection": "paypal"}), lambda_context)

    assert result["outcome"] == "failed" and "no connection named 'paypal'" in result["reason"]


# ------------------------------------------------------------------ idempotency

def test_given_the_same_task_event_twice_when_run_then_each_order_is_cancelled_once(stripe, lambda_context):
    jane = a_contact(first_name="Jane")
    sub = stripe.subscription(stripe.customer("jane.doe@example.com"))
    event = task_event(EVENT, jane)

    first = cancel(event, lambda_context)
    second = cancel(event, lambda_context)

    assert first == second
    assert stripe.cancellations == [sub] and len(stripe.requests("DELETE")) == 1
    assert len(history(jane, "orders.cancelled")) == 1


def test_given_a_cancel_went_through_but_its_answer_was_lost_when_retried_then_the_order_is_not_cancelled_again(
        stripe, lambda_context):
    jane = a_contact(first_name="Jane")
    customer = stripe.customer("jane.doe@example.com")
    first, second = stripe.subscription(customer), stripe.subscription(customer, "prod_course")
    stripe.fail_next("DELETE", f"/v1/subscriptions/{second}", 502, {"error": {"type": "api_error",
                                                                              "message": "Bad gateway"}}, after=True)
    event = task_event(EVENT, jane)

    with pytest.raises(TransientError):
        cancel(event, lambda_context)
    cancel(event, lambda_context)

    # THEN each order was cancelled once (the second repeated with its Idempotency-Key, replayed
    # by Stripe) and the one history entry names both
    assert sorted(stripe.cancellations) == sorted([first, second])
    [done] = [e.detail for e in history(jane, "orders.cancelled")]
    assert sorted(done["cancelled"]) == sorted([first, second])


# ------------------------------------------------------------------ settings

def test_given_bad_settings_when_validated_then_they_are_refused_saying_what_to_change():
    with pytest.raises(ValidationError, match="list the product or price ids"):
        Settings(connection="stripe", products=[])
    with pytest.raises(ValidationError, match="listed twice"):
        Settings(connection="stripe", products=["prod_gold", "prod_gold"])
    with pytest.raises(ValidationError, match="connection"):
        Settings.model_validate({"products": ["prod_gold"]})
    assert Settings(connection="stripe").products is None


def test_given_a_stripe_connection_when_validated_then_the_secret_must_be_an_automaps_connection_secret():
    good = "arn:aws:secretsmanager:us-east-1:123456789012:secret:automaps/connections/stripe-AbCdEf"
    assert StripeConnection(type="stripe", secret_arn=good).api_base == "https://api.stripe.com"
    with pytest.raises(ValidationError, match="must be '<stack name>/connections/<anything>'"):
        StripeConnection(type="stripe", secret_arn=good.replace("automaps/connections/", "prod/"))
    with pytest.raises(ValidationError, match="ARN of a Secrets Manager secret"):
        StripeConnection(type="stripe", secret_arn="sk_live_123")
    with pytest.raises(ValidationError, match="not an http"):
        StripeConnection(type="stripe", secret_arn=good, api_base="api.stripe.com")
