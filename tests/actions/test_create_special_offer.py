"""create_special_offer / remove_special_offer: a discount on given products for the contact
(Sales Jet "Create Special Offer", "Remove Special Offer"); an existing offer is updated."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from automaps import rendering
from automaps.store.commerce import CommerceStore, current_offers, offer_code
from automaps.journeys.steps import TransientError
from functions.create_special_offer import app as create
from functions.remove_special_offer import app as remove
from tests.actions.commerce_givens import dynamodb_answers
from tests.actions.conftest import event_for, kinds, retried_alike


def test_given_a_contact_when_an_offer_is_created_then_it_has_a_stable_code_and_an_expiry(store, contact,
                                                                                           lambda_context):
    result = create.lambda_handler(event_for("create_special_offer", contact), lambda_context)

    (offer,) = CommerceStore().offers(contact.id)
    assert offer.code == offer_code(contact.id, "spring-sale") and len(offer.code) == 10
    assert offer.products == ["course-pro", "ebook-101"] and str(offer.discount.percent) == "20"
    assert offer.expires_at == datetime(2026, 11, 9, 8, 0, tzinfo=UTC)   # 7 days after the state was entered
    assert result["detail"] == {"offer": "spring-sale", "code": offer.code, "products": ["course-pro", "ebook-101"],
                                "percent": "20", "expires_at": "2026-11-09T08:00:00Z", "change": "created"}
    (created,) = store.history(contact.id, kinds=["offer.created"])
    assert created.detail["code"] == offer.code and created.step_id == "spring-offer"


def test_given_an_offer_exists_when_it_is_created_again_with_new_terms_then_it_is_updated_keeping_its_code(
        store, contact, lambda_context, clock):
    create.lambda_handler(event_for("create_special_offer", contact), lambda_context)
    clock.advance(days=2)

    result = create.lambda_handler(event_for("create_special_offer", contact,
                                             state_entered_time="2026-11-04T08:00:00.000Z", settings={
        "offer": "spring-sale", "products": ["course-pro"], "discount": {"amount": "15", "currency": "EUR"},
        "expires": {"at": "2026-12-31T23:59:59Z"}}), lambda_context)

    assert result["detail"]["change"] == "updated"
    (offer,) = CommerceStore().offers(contact.id)
    assert (offer.products, str(offer.discount.amount), offer.discount.currency) == (["course-pro"], "15", "EUR")
    assert offer.code == offer_code(contact.id, "spring-sale")
    assert offer.created_at.isoformat() == "2026-11-02T08:00:00+00:00" != offer.updated_at.isoformat()
    assert kinds(store, contact).count("offer.created") == kinds(store, contact).count("offer.updated") == 1


def test_given_an_offer_when_the_same_terms_are_given_again_then_nothing_is_recorded(store, contact,
                                                                                     lambda_context):
    create.lambda_handler(event_for("create_special_offer", contact), lambda_context)

    again = create.lambda_handler(event_for("create_special_offer", contact,
                                            state_name="spring-offer again"), lambda_context)

    assert again["reason"] == "the contact already has this offer"
    assert [k for k in kinds(store, contact) if k.startswith("offer.")] == ["offer.created"]


def test_given_an_offer_was_created_when_the_visit_is_retried_then_it_is_created_once(store, contact,
                                                                                      lambda_context):
    event = event_for("create_special_offer", contact)
    first = create.lambda_handler(event, lambda_context)

    assert retried_alike(create.lambda_handler(event, lambda_context), first)
    assert kinds(store, contact).count("offer.created") == 1


def test_given_a_code_in_the_settings_then_the_offer_uses_it(store, contact, lambda_context):
    event = event_for("create_special_offer", contact, settings={
        "offer": "vip", "products": ["coaching"], "discount": {"percent": 50}, "code": "VIP-50"})

    create.lambda_handler(event, lambda_context)

    (offer,) = CommerceStore().offers(contact.id)
    assert (offer.code, offer.expires_at) == ("VIP-50", None)


def test_given_an_expiry_already_past_then_the_offer_is_skipped(store, contact, lambda_context):
    event = event_for("create_special_offer", contact, settings={
        "offer": "late", "products": ["x"], "discount": {"percent": 5}, "expires": {"at": "2026-11-01T00:00:00Z"}})

    result = create.lambda_handler(event, lambda_context)

    assert (result["outcome"], result["reason"]) == ("skipped", "the offer's expiry has already passed")
    assert CommerceStore().offers(contact.id) == []


def test_given_offers_then_current_offers_lists_the_live_ones_newest_first_for_merge_fields(
        store, contact, lambda_context, clock):
    create.lambda_handler(event_for("create_special_offer", contact), lambda_context)            # expires in 7 days
    clock.advance(hours=1)
    create.lambda_handler(event_for("create_special_offer", contact, state_name="other", settings={
        "offer": "vip", "products": ["coaching"], "discount": {"amount": 30, "currency": "USD"}}), lambda_context)

    live = current_offers(contact.id)
    assert [o.offer_id for o in live] == ["vip", "spring-sale"]
    assert [o.offer_id for o in current_offers(contact.id, now=datetime(2026, 11, 10, tzinfo=UTC))] == ["vip"]
    text = rendering.render("Use {{ offer.code }} for {{ offer.amount }} {{ offer.currency }} off",
                            rendering.merge_context(store.get(contact.id), {}, live[0].merge_fields()))
    assert text == f"Use {live[0].code} for 30 USD off"


def test_given_an_offer_when_it_is_removed_then_it_is_gone_and_recorded_once(store, contact, lambda_context):
    create.lambda_handler(event_for("create_special_offer", contact), lambda_context)
    event = event_for("remove_special_offer", contact)

    first = remove.lambda_handler(event, lambda_context)
    again = remove.lambda_handler(event, lambda_context)

    assert retried_alike(again, first) and first["outcome"] == "done" and first["detail"]["offer"] == "spring-sale"
    assert CommerceStore().offers(contact.id) == []
    assert kinds(store, contact).count("offer.removed") == 1


def test_given_no_offer_when_it_is_removed_then_nothing_is_recorded(store, contact, lambda_context):
    result = remove.lambda_handler(event_for("remove_special_offer", contact), lambda_context)

    assert (result["outcome"], result["reason"]) == ("done", "the contact has no such offer")
    assert "offer.removed" not in kinds(store, contact)


def test_given_dynamodb_throttles_when_the_offer_is_created_then_the_retry_creates_it_once(store, contact,
                                                                                           lambda_context):
    event = event_for("create_special_offer", contact)
    with dynamodb_answers("ProvisionedThroughputExceededException", 400), pytest.raises(TransientError):
        create.lambda_handler(event, lambda_context)

    assert create.lambda_handler(event, lambda_context)["detail"]["change"] == "created"
    assert kinds(store, contact).count("offer.created") == 1


@pytest.mark.parametrize(("settings", "says"), [
    ({"offer": "o", "products": [], "discount": {"percent": 5}}, "at least 1 item"),
    ({"offer": "o", "products": ["a", "a"], "discount": {"percent": 5}}, "products listed more than once: a"),
    ({"offer": "o", "products": ["a"], "discount": {"percent": 5, "amount": 3}}, "either {percent: N}"),
    ({"offer": "o", "products": ["a"], "discount": {"amount": 3}}, "needs its currency"),
    ({"offer": "o", "products": ["a"], "discount": {"percent": 150}}, "less than or equal to 100"),
    ({"offer": "o", "products": ["a"], "discount": {"percent": 5}, "expires": {}}, "expires is either"),
    ({"offer": "o", "products": ["a"], "discount": {"percent": 5}, "expires": {"in": {"days": -1}}}, "positive"),
    ({"offer": "o", "products": ["a"], "discount": {"percent": 5}, "expires": {"at": "2026-12-01T00:00:00"}},
     "timezone"),
    ({"offer": "o", "products": ["a"], "discount": {"percent": 5}, "code": "lower"}, "capital letters"),
])
def test_given_bad_settings_then_the_step_fails_saying_what_to_change(store, contact, lambda_context, settings, says):
    result = create.lambda_handler(event_for("create_special_offer", contact, settings=settings), lambda_context)

    assert result["outcome"] == "failed" and says in result["reason"], result["reason"]


def test_given_the_idempotency_record_was_lost_when_the_visit_runs_again_later_then_its_expiry_is_kept(
        store, contact, lambda_context, clock):
    """A crash after the write, before Powertools saved the outcome: the offer remembers its visit."""
    from automaps import aws as aws_clients, config
    from tests.actions.conftest import idempotency_records

    event = event_for("create_special_offer", contact)
    create.lambda_handler(event, lambda_context)
    for record in idempotency_records():
        aws_clients.client("dynamodb").delete_item(TableName=config.idempotency_table(), Key={"id": record["id"]})
    clock.advance(seconds=40)

    again = create.lambda_handler(event, lambda_context)

    assert again["reason"] == "done by an earlier attempt of this visit of the step"
    assert again["detail"]["expires_at"] == "2026-11-09T08:00:00Z"
    assert kinds(store, contact).count("offer.created") == 1 and "offer.updated" not in kinds(store, contact)
