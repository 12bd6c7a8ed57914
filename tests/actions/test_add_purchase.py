"""add_purchase: a purchase in the contact's purchase history (Ontraport "Add Product to Purchase
History"); it fires the purchase event (``purchase.made``) once per order, or once per visit."""

from __future__ import annotations

from decimal import Decimal

import pytest

from automaps.store.commerce import CommerceStore
from automaps.journeys.steps import TransientError
from functions.add_purchase import app
from tests.actions.commerce_givens import dynamodb_answers
from tests.actions.conftest import MAP_ID, event_for, kinds, retried_alike

ORDER = {"type": "form_submitted", "form": "checkout", "fields": {"order_id": "ord_1001"}}


@pytest.fixture
def buyer(store, contact):
    """GIVEN Jane was enrolled by a checkout form carrying her order id."""
    store.create_enrollment(contact.id, MAP_ID, "e_checkout", ORDER)
    return contact


def purchase_event(contact, **changes):
    return event_for("add_purchase", contact, enrollment_id="e_checkout", **changes)


def test_given_an_order_when_the_purchase_is_added_then_it_is_in_the_history_and_the_event_fires(
        store, buyer, lambda_context):
    result = app.lambda_handler(purchase_event(buyer), lambda_context)

    assert result["outcome"] == "done" and result["reason"] is None
    (purchase,) = CommerceStore().purchases(buyer.id)
    assert (purchase.product_id, purchase.quantity, purchase.price, purchase.currency, purchase.total,
            purchase.order_id) == ("course-pro", 1, Decimal("49.00"), "USD", Decimal("49.00"), "ord_1001")
    (made,) = store.history(buyer.id, kinds=["purchase.made"])
    assert made.detail == {"purchase_id": purchase.purchase_id, "product": "course-pro", "quantity": 1,
                           "price": "49.00", "currency": "USD", "total": "49.00", "order_id": "ord_1001"}
    assert (made.map_id, made.step_id) == ("welcome-leads", "record-purchase")


def test_given_purchases_of_several_products_then_the_history_is_queryable_by_product(store, buyer,
                                                                                      lambda_context):
    app.lambda_handler(purchase_event(buyer), lambda_context)
    app.lambda_handler(purchase_event(buyer, state_entered_time="2026-11-02T08:05:00.000Z", settings={
        "product": "ebook-101", "quantity": 3, "price": "9.99", "currency": "EUR"}), lambda_context)

    shop = CommerceStore()
    assert [p.product_id for p in shop.purchases(buyer.id)] == ["course-pro", "ebook-101"]
    (ebooks,) = shop.purchases(buyer.id, product_id="ebook-101")
    assert (ebooks.total, ebooks.order_id) == (Decimal("29.97"), None)
    assert shop.purchased(buyer.id, "ebook-101") and not shop.purchased(buyer.id, "ebook")


def test_given_the_same_order_id_when_the_step_is_visited_again_then_the_purchase_is_not_repeated(
        store, buyer, lambda_context):
    app.lambda_handler(purchase_event(buyer), lambda_context)

    again = app.lambda_handler(purchase_event(buyer, state_entered_time="2026-11-09T08:00:00.000Z"), lambda_context)

    assert again["reason"] == "the purchase is already in the purchase history"
    assert len(CommerceStore().purchases(buyer.id)) == 1
    assert kinds(store, buyer).count("purchase.made") == 1


def test_given_no_order_id_when_the_step_is_visited_twice_then_each_visit_is_a_purchase(store, contact,
                                                                                        lambda_context):
    settings = {"product": "coaching", "price": "100", "currency": "USD"}
    app.lambda_handler(event_for("add_purchase", contact, settings=settings), lambda_context)

    app.lambda_handler(event_for("add_purchase", contact, settings=settings,
                                 state_entered_time="2026-11-09T08:00:00.000Z"), lambda_context)

    assert len(CommerceStore().purchases(contact.id, "coaching")) == 2
    assert kinds(store, contact).count("purchase.made") == 2


def test_given_a_purchase_was_added_when_the_visit_is_retried_then_the_event_fires_once(store, buyer,
                                                                                        lambda_context):
    event = purchase_event(buyer)
    first = app.lambda_handler(event, lambda_context)

    assert retried_alike(app.lambda_handler(event, lambda_context), first)
    assert kinds(store, buyer).count("purchase.made") == 1


def test_given_the_order_id_merge_field_is_missing_then_the_purchase_is_skipped(store, contact, lambda_context):
    result = app.lambda_handler(event_for("add_purchase", contact), lambda_context)  # no order_id in its event

    assert (result["outcome"], result["reason"]) == ("skipped", "missing field: event.fields.order_id")
    assert CommerceStore().purchases(contact.id) == []


def test_given_the_map_fails_on_missing_fields_then_a_missing_order_id_is_a_failure(store, contact,
                                                                                    lambda_context):
    result = app.lambda_handler(event_for("add_purchase", contact, missing_fields="fail"), lambda_context)

    assert result["outcome"] == "failed" and "event.fields.order_id" in result["reason"]


@pytest.mark.parametrize("code", ["ThrottlingException", "ServiceUnavailable"])
def test_given_dynamodb_throttles_when_the_purchase_is_added_then_the_retry_adds_it_once(store, buyer,
                                                                                         lambda_context, code):
    event = purchase_event(buyer)
    with dynamodb_answers(code, 400 if code.startswith("Throttling") else 503), pytest.raises(TransientError):
        app.lambda_handler(event, lambda_context)
    assert CommerceStore().purchases(buyer.id) == [] and "purchase.made" not in kinds(store, buyer)

    assert app.lambda_handler(event, lambda_context)["outcome"] == "done"
    assert kinds(store, buyer).count("purchase.made") == 1


@pytest.mark.parametrize(("settings", "says"), [
    ({"product": "x", "currency": "USD"}, "price"),
    ({"product": "x", "price": "-1", "currency": "USD"}, "greater than or equal to 0"),
    ({"product": "x", "price": "1.999", "currency": "USD"}, "decimal places"),
    ({"product": "x", "price": "1", "currency": "usd"}, "ISO 4217 code in capitals"),
    ({"product": "x", "price": "1", "currency": "USD", "order_id": ""}, "order_id"),
])
def test_given_bad_settings_then_the_step_fails_saying_what_to_change(store, contact, lambda_context, settings, says):
    result = app.lambda_handler(event_for("add_purchase", contact, settings=settings), lambda_context)

    assert result["outcome"] == "failed" and says in result["reason"]
