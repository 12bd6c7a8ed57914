"""recharge_transactions: the contact's invoices in collections are charged again at the payment
provider (a fake Stripe on 127.0.0.1); a declined card is recorded, never retried, and no retry
of the step ever charges an invoice twice."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from automaps.actions.recharge_transactions import Settings
from automaps.journeys.steps import TransientError
from functions.recharge_transactions import app
from tests.actions.sending import a_contact, history, task_event
from tests.providers import fake_stripe
from tests.providers.fake_stripe import API_KEY
from tests.providers.fixtures import stripe_account

EVENT = "recharge_transactions.json"


@pytest.fixture
def stripe(aws, clock) -> Iterator[fake_stripe.FakeStripe]:
    with stripe_account() as fake:
        yield fake


def recharge(event: dict, lambda_context) -> dict:
    return app.lambda_handler(event, lambda_context)


# ------------------------------------------------------------------ recharging

def test_given_open_and_uncollectible_invoices_when_the_step_runs_then_each_is_paid_once_and_recorded(
        stripe, lambda_context):
    jane = a_contact(first_name="Jane")
    customer = stripe.customer("jane.doe@example.com")
    march = stripe.invoice(customer, 4900)
    april = stripe.invoice(customer, 2500, status="uncollectible")
    stripe.invoice(customer, 9900, status="paid")

    result = recharge(task_event(EVENT, jane), lambda_context)

    assert result["outcome"] == "done"
    assert stripe.charges == [{"invoice": march, "amount": 4900, "currency": "usd"},
                              {"invoice": april, "amount": 2500, "currency": "usd"}]
    [entry] = history(jane, "transactions.recharged")
    assert entry.detail == {"connection": "stripe", "paid": 2, "not_paid": 0, "results": [
        {"invoice": march, "status": "paid", "amount": 4900, "currency": "usd"},
        {"invoice": april, "status": "paid", "amount": 2500, "currency": "usd"}]}
    assert (entry.map_id, entry.step_id) == ("collections", "recharge")


def test_given_the_step_when_it_pays_then_it_posts_a_form_with_bearer_auth_and_an_idempotency_key(
        stripe, lambda_context):
    jane = a_contact(first_name="Jane")
    invoice = stripe.invoice(stripe.customer("jane.doe@example.com"))

    recharge(task_event(EVENT, jane), lambda_context)

    [pay] = stripe.requests("POST")
    assert pay.path == f"/v1/invoices/{invoice}/pay"
    assert pay.header("Authorization") == f"Bearer {API_KEY}"
    assert pay.header("Content-Type") == "application/x-www-form-urlencoded" and pay.form == []
    assert pay.header("Idempotency-Key").endswith(f":pay:{invoice}")
    assert [dict(r.query)["status"] for r in stripe.requests("GET", "/v1/invoices")] == ["open", "uncollectible"]


def test_given_a_declined_card_when_the_step_runs_then_that_invoice_is_a_recorded_failure_and_others_are_paid(
        stripe, lambda_context):
    jane = a_contact(first_name="Jane")
    customer = stripe.customer("jane.doe@example.com")
    declined = stripe.invoice(customer, 4900, card="insufficient_funds")
    paid = stripe.invoice(customer, 2500)

    result = recharge(task_event(EVENT, jane), lambda_context)

    assert result["outcome"] == "failed"
    assert result["reason"] == f"1 of 2 transactions not recharged: {declined}: card_declined (insufficient_funds)"
    assert stripe.charges == [{"invoice": paid, "amount": 2500, "currency": "usd"}]
    [entry] = history(jane, "transactions.recharged")
    assert entry.detail["results"][0] == {"invoice": declined, "status": "declined", "code": "card_declined",
                                          "decline_code": "insufficient_funds", "message": "Your card was declined."}
    assert len(history(jane, "step.failed")) == 1
    assert len(stripe.requests("POST")) == 2   # the decline was not retried


def test_given_an_invoice_stripe_no_longer_knows_when_paid_then_its_404_is_recorded_for_that_invoice(
        stripe, lambda_context):
    jane = a_contact(first_name="Jane")
    invoice = stripe.invoice(stripe.customer("jane.doe@example.com"))
    stripe.fail_next("POST", f"/v1/invoices/{invoice}/pay", 404, {"error": {
        "type": "invalid_request_error", "code": "resource_missing", "message": f"No such invoice: '{invoice}'"}})

    result = recharge(task_event(EVENT, jane), lambda_context)

    assert result["outcome"] == "failed"
    [entry] = history(jane, "transactions.recharged")
    assert entry.detail["results"] == [{"invoice": invoice, "status": "failed",
                                        "message": f"Stripe answered 404: No such invoice: '{invoice}'"}]


# ------------------------------------------------------------------ nothing to recharge

def test_given_no_customer_at_stripe_when_the_step_runs_then_it_is_skipped(stripe, lambda_context):
    jane = a_contact(first_name="Jane")

    result = recharge(task_event(EVENT, jane), lambda_context)

    assert (result["outcome"], result["reason"]) == ("skipped", "no customer at the payment provider for this contact")
    assert stripe.requests("POST") == [] and history(jane, "transactions.recharged") == []


def test_given_nothing_in_collections_when_the_step_runs_then_it_is_skipped(stripe, lambda_context):
    jane = a_contact(first_name="Jane")
    stripe.invoice(stripe.customer("jane.doe@example.com"), status="paid")

    result = recharge(task_event(EVENT, jane), lambda_context)

    assert (result["outcome"], result["reason"]) == ("skipped", "the contact has no transactions in collections")
    assert stripe.charges == []


# ------------------------------------------------------------------ transient errors and idempotency

@pytest.mark.parametrize("status", [429, 500, 503])
def test_given_stripe_throttles_or_fails_on_a_charge_when_retried_then_the_same_key_is_sent_and_it_charges_once(
        stripe, lambda_context, status):
    jane = a_contact(first_name="Jane")
    invoice = stripe.invoice(stripe.customer("jane.doe@example.com"))
    stripe.fail_next("POST", f"/v1/invoices/{invoice}/pay", status, {"error": {
        "type": "api_error", "message": "Something went wrong on Stripe's end."}})
    event = task_event(EVENT, jane)

    with pytest.raises(TransientError, match=f"Stripe answered {status}"):
        recharge(event, lambda_context)
    assert stripe.charges == []

    assert recharge(event, lambda_context)["outcome"] == "done"
    assert len(stripe.charges) == 1
    assert len({r.header("Idempotency-Key") for r in stripe.requests("POST")}) == 1


def test_given_a_charge_went_through_but_its_answer_was_lost_when_retried_then_it_is_not_charged_again(
        stripe, lambda_context):
    jane = a_contact(first_name="Jane")
    customer = stripe.customer("jane.doe@example.com")
    first, second = stripe.invoice(customer, 4900), stripe.invoice(customer, 2500)
    stripe.fail_next("POST", f"/v1/invoices/{second}/pay", 500, {"error": {"type": "api_error",
                                                                          "message": "Internal error"}}, after=True)
    event = task_event(EVENT, jane)

    with pytest.raises(TransientError):
        recharge(event, lambda_context)
    recharge(event, lambda_context)

    # THEN each invoice was charged once (the second repeated with its key, replayed by Stripe)
    # and the one history entry names both as paid
    assert [c["invoice"] for c in stripe.charges] == [first, second]
    [recharged] = [e.detail for e in history(jane, "transactions.recharged")]
    assert [r["invoice"] for r in recharged["results"]] == [first, second] and recharged["paid"] == 2


def test_given_the_same_idempotency_key_twice_when_paying_then_stripe_replays_the_first_answer_and_charges_once(
        stripe, aws):
    from automaps.providers import payments

    invoice = stripe.invoice(stripe.customer("jane.doe@example.com"))
    provider = payments.connect("stripe")

    first = provider.pay_invoice(invoice, "visit-1:pay")
    again = provider.pay_invoice(invoice, "visit-1:pay")

    assert first == again and first.status == "paid"
    assert len(stripe.charges) == 1


def test_given_the_same_task_event_twice_when_run_then_one_charge(stripe, lambda_context):
    jane = a_contact(first_name="Jane")
    stripe.invoice(stripe.customer("jane.doe@example.com"))
    event = task_event(EVENT, jane)

    first = recharge(event, lambda_context)
    second = recharge(event, lambda_context)

    assert first == second
    assert len(stripe.charges) == 1 and len(stripe.requests("POST")) == 1
    assert len(history(jane, "transactions.recharged")) == 1


def test_given_a_later_visit_of_the_step_when_a_new_invoice_is_open_then_it_is_charged(stripe, lambda_context):
    jane = a_contact(first_name="Jane")
    customer = stripe.customer("jane.doe@example.com")
    stripe.invoice(customer)
    recharge(task_event(EVENT, jane), lambda_context)
    stripe.invoice(customer, 1000)

    recharge(task_event(EVENT, jane, state_entered_time="2026-12-02T08:00:00.000Z"), lambda_context)

    assert [c["amount"] for c in stripe.charges] == [4900, 1000]


# ------------------------------------------------------------------ settings

def test_given_bad_settings_when_validated_then_they_are_refused():
    with pytest.raises(ValidationError, match="connection"):
        Settings.model_validate({})
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Settings.model_validate({"connection": "stripe", "amount": 10})
