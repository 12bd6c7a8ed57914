"""add_product / remove_product: products stored on the contact (Sales Jet "Add Product to Lead"
and "Remove Product from Lead"), each change recorded once."""

from __future__ import annotations

import pytest

from automaps.store.commerce import CommerceStore
from automaps.journeys.steps import TransientError
from functions.add_product import app as add
from functions.remove_product import app as remove
from tests.actions.commerce_givens import dynamodb_answers
from tests.actions.conftest import event_for, idempotency_records, kinds, retried_alike


def test_given_a_contact_when_a_product_is_added_then_it_is_on_the_contact_and_recorded(store, contact,
                                                                                        lambda_context):
    result = add.lambda_handler(event_for("add_product", contact, settings={"product": "ebook-101", "quantity": 2}),
                                lambda_context)

    assert result == {"outcome": "done", "reason": None, "step_id": "give-ebook",
                      "detail": {"product": "ebook-101", "quantity": 2}}
    (product,) = CommerceStore().products(contact.id)
    assert (product.product_id, product.quantity, product.added_at.isoformat()) == ("ebook-101", 2,
                                                                                   "2026-11-02T08:00:00+00:00")
    (added,) = store.history(contact.id, kinds=["product.added"])
    assert added.detail == {"product": "ebook-101", "quantity": 2}
    assert (added.map_id, added.step_id) == ("welcome-leads", "give-ebook")


def test_given_the_contact_has_the_product_when_it_is_added_again_then_nothing_changes(store, contact,
                                                                                       lambda_context, clock):
    add.lambda_handler(event_for("add_product", contact), lambda_context)
    clock.advance(days=1)

    again = add.lambda_handler(event_for("add_product", contact, state_entered_time="2026-11-03T08:00:00.000Z",
                                         settings={"product": "ebook-101", "quantity": 5}), lambda_context)

    assert again["outcome"] == "done" and again["reason"] == "the contact already has the product"
    assert again["detail"] == {"product": "ebook-101", "quantity": 1}
    assert kinds(store, contact).count("product.added") == 1
    assert [p.quantity for p in CommerceStore().products(contact.id)] == [1]


def test_given_a_product_was_added_when_the_visit_is_retried_then_it_is_added_once(store, contact, lambda_context):
    event = event_for("add_product", contact)
    first = add.lambda_handler(event, lambda_context)

    again = add.lambda_handler(event, lambda_context)

    assert retried_alike(again, first)
    assert kinds(store, contact).count("product.added") == 1
    assert kinds(store, contact).count("step.done") == 1


def test_given_the_idempotency_record_was_lost_when_the_step_runs_again_then_the_product_is_not_added_twice(
        store, contact, lambda_context):
    """A crash after the write but before Powertools saved the outcome: the store itself holds."""
    add.lambda_handler(event_for("add_product", contact), lambda_context)
    from automaps import aws as aws_clients, config
    for record in idempotency_records():
        aws_clients.client("dynamodb").delete_item(TableName=config.idempotency_table(), Key={"id": record["id"]})

    again = add.lambda_handler(event_for("add_product", contact), lambda_context)

    assert again["reason"] == "done by an earlier attempt of this visit of the step"
    assert kinds(store, contact).count("product.added") == 1


def test_given_the_contact_has_the_product_when_it_is_removed_then_it_is_gone_and_recorded(store, contact,
                                                                                          lambda_context):
    add.lambda_handler(event_for("add_product", contact, settings={"product": "ebook-101", "quantity": 3}),
                       lambda_context)

    result = remove.lambda_handler(event_for("remove_product", contact), lambda_context)

    assert result["outcome"] == "done" and result["detail"] == {"product": "ebook-101", "quantity": 3}
    assert CommerceStore().products(contact.id) == []
    (removed,) = store.history(contact.id, kinds=["product.removed"])
    assert removed.detail == {"product": "ebook-101", "quantity": 3} and removed.step_id == "take-ebook"


def test_given_the_contact_lacks_the_product_when_it_is_removed_then_nothing_is_recorded(store, contact,
                                                                                         lambda_context):
    result = remove.lambda_handler(event_for("remove_product", contact), lambda_context)

    assert (result["outcome"], result["reason"]) == ("done", "the contact does not have the product")
    assert "product.removed" not in kinds(store, contact)


def test_given_a_removal_ran_when_the_visit_is_retried_then_one_removal_is_recorded(store, contact,
                                                                                    lambda_context):
    add.lambda_handler(event_for("add_product", contact), lambda_context)
    event = event_for("remove_product", contact)
    first = remove.lambda_handler(event, lambda_context)

    again = remove.lambda_handler(event, lambda_context)

    assert retried_alike(again, first)
    assert kinds(store, contact).count("product.removed") == 1


def test_given_the_contact_was_deleted_when_a_product_is_added_then_the_step_is_skipped(store, lambda_context):
    result = add.lambda_handler(event_for("add_product", "c_gone"), lambda_context)

    assert (result["outcome"], result["reason"]) == ("skipped", "contact no longer exists")


def test_given_an_only_if_not_met_when_a_product_would_be_added_then_it_is_skipped(store, contact,
                                                                                   lambda_context):
    event = event_for("add_product", contact, only_if={"has_tag": "customer"})

    result = add.lambda_handler(event, lambda_context)

    assert (result["outcome"], result["reason"]) == ("skipped", "only_if not met")
    assert CommerceStore().products(contact.id) == []


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "InternalServerError"])
def test_given_dynamodb_throttles_or_fails_when_a_product_is_added_then_the_retry_adds_it_once(
        store, contact, lambda_context, code):
    event = event_for("add_product", contact)

    with dynamodb_answers(code, 400 if code.startswith("Provisioned") else 500) as answered, \
            pytest.raises(TransientError):
        add.lambda_handler(event, lambda_context)

    assert answered == [code] and CommerceStore().products(contact.id) == []
    assert add.lambda_handler(event, lambda_context)["outcome"] == "done"
    assert kinds(store, contact).count("product.added") == 1


def test_given_dynamodb_refuses_the_request_when_a_product_is_added_then_the_step_fails_without_retry(
        store, contact, lambda_context):
    with dynamodb_answers("ValidationException", 400):
        with pytest.raises(Exception) as raised:
            add.lambda_handler(event_for("add_product", contact), lambda_context)

    assert type(raised.value).__name__ == "ClientError"  # not retried by the state; its Catch records it


@pytest.mark.parametrize(("settings", "says"), [
    ({}, "product"),
    ({"product": "e book"}, "must be 1 to 100 letters"),
    ({"product": "ebook-101", "quantity": 0}, "greater than or equal to 1"),
    ({"product": "ebook-101", "colour": "red"}, "Extra inputs are not permitted"),
])
def test_given_bad_settings_when_the_step_runs_then_it_fails_saying_what_to_change(store, contact, lambda_context,
                                                                                   settings, says):
    result = add.lambda_handler(event_for("add_product", contact, settings=settings), lambda_context)

    assert result["outcome"] == "failed" and says in result["reason"]
