"""POST /ingest/events takes a shop's payment events (refund, open order, charge, declined card)
and a shop's or platform's own events (``<namespace>.<name>`` with scalar ``data``): each lands
once per event id on the contact's history, as the kind the router's triggers and goals read."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from automaps.intake.ingest import RESERVED_NAMESPACES
from automaps.store.commerce import CommerceStore
from automaps.store.contacts import ContactStore
from tests.ingest.conftest import fixture_body, item_count

PAYMENTS = "ingest/payments.json"
CART = "ingest/cart_abandoned.json"
PURCHASE = "ingest/purchase_with_cart.json"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def payments() -> list[dict]:
    return fixture_body(PAYMENTS)["events"]


def payment(kind: str) -> dict:
    return next(e for e in payments() if e["type"] == kind)


def cart_abandoned(**change) -> dict:
    sent = copy.deepcopy(fixture_body(CART))
    for key, value in change.items():
        if value is None:
            sent.pop(key, None)
        else:
            sent[key] = value
    return sent


def with_data(**data) -> dict:
    sent = cart_abandoned()
    sent["data"] = {**sent["data"], **data}
    return sent


def history(contact_id: str) -> dict[str, list]:
    kinds: dict[str, list] = {}
    for entry in ContactStore().history(contact_id):
        kinds.setdefault(entry.kind, []).append(entry)
    return kinds


# ------------------------------------------------------------------ payment events


def test_given_a_shops_payment_events_when_posted_then_each_is_on_the_history_with_its_kind_detail_and_time(
        jane, sender):
    # GIVEN a shop's open order, its first charge, a declined card and a refund (events/ingest/payments.json)
    sent = payments()

    # WHEN it posts them, signed
    response = sender.post(fixture=PAYMENTS)

    # THEN each is accepted and recorded once as its own kind, at its occurred_at, with the fields it sent
    assert response["statusCode"] == 200
    assert (response["json"]["accepted"], response["json"]["duplicate"], response["json"]["rejected"]) == (4, 0, 0)
    recorded = history(jane.id)
    plan = {"product": "coaching-plan", "order_id": "ord-3001"}
    assert {kind: [e.detail for e in recorded[kind]] for kind in [e["type"] for e in sent]} == {
        "order.created": [{**plan, "amount": "297.00", "currency": "USD"}],
        "order.charged": [{**plan, "amount": "99.00", "currency": "USD"}],
        "card.declined": [{**plan, "amount": "99.00", "currency": "USD", "reason": "insufficient_funds"}],
        "purchase.refunded": [{**plan, "amount": "99.00", "currency": "USD"}],
    }
    for event in sent:
        (entry,) = recorded[event["type"]]
        assert entry.at == at(event["occurred_at"]) and entry.map_id is None
    # ... and nothing else: no purchase is stored for them, and the answer holds no address
    assert CommerceStore().purchases(jane.id) == []
    assert "jane@example.com" not in response["body"]


@pytest.mark.parametrize(("kind", "fields", "detail"), [
    ("purchase.refunded", {"order_id": "o-1", "amount": "12", "currency": "EUR"},
     {"order_id": "o-1", "amount": "12", "currency": "EUR"}),
    ("order.created", {"product": "coaching-plan", "order_id": "o-2"}, {"product": "coaching-plan", "order_id": "o-2"}),
    ("order.charged", {"order_id": "o-3", "amount": "0.50", "currency": "GBP"},
     {"order_id": "o-3", "amount": "0.50", "currency": "GBP"}),
    ("card.declined", {}, {}),
])
def test_given_a_payment_event_with_only_its_required_fields_then_it_is_recorded_with_them(
        jane, sender, kind, fields, detail):
    # GIVEN the smallest event of the type
    sent = {"id": f"min-{kind}", "type": kind, "email": "jane@example.com", "occurred_at": "2026-11-01T10:00:00Z",
            **fields}

    # WHEN it is posted
    response = sender.post(sent)

    # THEN it is recorded with exactly those fields
    assert response["statusCode"] == 200 and response["json"]["accepted"] == 1, response["json"]
    (entry,) = ContactStore().events(jane.id, kind)
    assert entry.detail == detail


@pytest.mark.parametrize("kind", ["order.created", "order.charged", "card.declined", "purchase.refunded"])
def test_given_a_payment_event_taken_when_its_id_is_posted_again_then_it_is_a_duplicate_and_nothing_is_added(
        jane, sender, kind):
    # GIVEN the event was taken
    sent = payment(kind)
    assert sender.post(sent)["json"]["accepted"] == 1
    before = item_count()

    # WHEN the shop redelivers it, alone and twice in a batch (with a changed amount even)
    again = sender.post(sent)
    twice = sender.post({"events": [sent, {**sent, "amount": "1.00"}]})

    # THEN each is a duplicate naming the id, and the history holds one entry
    assert again["statusCode"] == twice["statusCode"] == 200
    assert again["json"]["results"][0]["status"] == "duplicate"
    assert sent["id"] in again["json"]["results"][0]["reason"]
    assert [r["status"] for r in twice["json"]["results"]] == ["duplicate", "duplicate"]
    assert item_count() == before
    assert len(ContactStore().events(jane.id, kind)) == 1


@pytest.mark.parametrize(("kind", "change", "field", "says"), [
    ("purchase.refunded", {"amount": None}, "amount", "is required"),
    ("purchase.refunded", {"order_id": None}, "order_id", "is required"),
    ("order.charged", {"currency": None}, "currency", "is required"),
    ("order.created", {"product": None}, "product", "is required"),
    ("order.created", {"currency": None}, "currency", "is required with amount"),
    ("card.declined", {"amount": None}, "amount", "is required with currency"),
    ("order.charged", {"amount": "9.999"}, "amount", "decimal places"),
    ("order.charged", {"amount": "-1"}, "amount", "greater than or equal to 0"),
    ("order.charged", {"amount": "ten"}, "amount", "decimal"),
    ("purchase.refunded", {"currency": "usd"}, "currency", "pattern"),
    ("order.created", {"product": "Coaching Plan!"}, "product", "letters, digits"),
    ("order.charged", {"order_id": "a\nb"}, "order_id", "control character"),
    ("card.declined", {"reason": "card 4242 4242 4242 4242 was declined"}, "reason", "card number"),
    ("card.declined", {"reason": "contact jane@example.com"}, "reason", "email address"),
    ("card.declined", {"reason": "+1 (415) 555-0134"}, "reason", "phone number"),
    ("card.declined", {"card_number": "4242424242424242"}, "card_number", "not a field of this event type"),
    ("order.charged", {"customer_email": "jane@example.com"}, "customer_email", "not a field of this event type"),
])
def test_given_a_malformed_payment_event_in_a_batch_then_it_is_rejected_naming_the_field_and_the_others_land(
        jane, sender, kind, change, field, says):
    # GIVEN the shop's batch where one event is malformed
    events = payments()
    index = next(i for i, e in enumerate(events) if e["type"] == kind)
    events[index] = {k: v for k, v in {**events[index], **change}.items() if v is not None}

    # WHEN it is posted
    response = sender.post({"events": events})

    # THEN that event is rejected naming events[i].<field>; the other three are recorded
    assert response["statusCode"] == 200
    results = response["json"]["results"]
    assert [r["status"] for r in results] == ["rejected" if i == index else "accepted" for i in range(4)]
    assert any(e["field"] == f"events[{index}].{field}" and says in e["error"] for e in results[index]["errors"]), \
        results[index]
    recorded = history(jane.id)
    assert kind not in recorded
    assert all(len(recorded[e["type"]]) == 1 for i, e in enumerate(events) if i != index)
    assert "4242" not in str(ContactStore().history(jane.id))


# ------------------------------------------------------------------ purchases keep their cart


def test_given_a_purchase_with_its_cart_id_then_the_purchase_made_entry_holds_it_for_wait_until(jane, sender):
    # GIVEN the shop's purchase of the cart a wait_until waits for (events/ingest/purchase_with_cart.json)
    # WHEN it is posted
    response = sender.post(fixture=PURCHASE)

    # THEN the purchase is stored and its entry's detail carries cart_id beside the purchase's fields
    assert response["statusCode"] == 200 and response["json"]["accepted"] == 1
    (purchase,) = CommerceStore().purchases(jane.id)
    (made,) = ContactStore().events(jane.id, "purchase.made")
    assert made.detail == {"purchase_id": purchase.purchase_id, "product": "ebook-101", "quantity": 1,
                           "price": "49.00", "currency": "EUR", "total": "49.00", "order_id": "ord-8812",
                           "cart_id": "cart_8812"}


def test_given_a_purchase_with_a_bad_cart_id_then_it_is_rejected_naming_cart_id_and_nothing_is_stored(jane, sender):
    sent = {**fixture_body(PURCHASE), "cart_id": "x" * 201}
    before = item_count()

    result = sender.post(sent)["json"]["results"][0]

    assert result["status"] == "rejected" and [e["field"] for e in result["errors"]] == ["cart_id"]
    assert item_count() == before


# ------------------------------------------------------------------ custom events


def test_given_a_shops_own_event_then_it_is_recorded_with_its_type_as_kind_and_its_data_as_detail(jane, sender):
    # GIVEN a shop's shop.cart_abandoned event with scalar data (events/ingest/cart_abandoned.json)
    # WHEN it is posted
    response = sender.post(fixture=CART)

    # THEN it is on the history as shop.cart_abandoned, at its time, with its data as it was sent
    assert response["statusCode"] == 200 and response["json"]["accepted"] == 1
    (entry,) = ContactStore().events(jane.id, "shop.cart_abandoned")
    assert entry.at == at("2026-11-01T12:00:00Z")
    assert entry.detail == {"cart_id": "cart_8812", "items": 3, "total": 149.5, "currency": "EUR",
                            "first_time": True, "coupon": None,
                            "checkout_url": "https://shop.example.com/checkout/cart_8812"}


def test_given_a_custom_event_taken_when_its_id_is_posted_again_then_it_is_a_duplicate(jane, sender):
    sender.post(fixture=CART)
    before = item_count()

    again = sender.post(with_data(items=4))

    assert again["statusCode"] == 200 and again["json"]["results"][0]["status"] == "duplicate"
    assert item_count() == before
    assert [e.detail["items"] for e in ContactStore().events(jane.id, "shop.cart_abandoned")] == [3]


@pytest.mark.parametrize("kind", ["shop.cart_abandoned", "trainingjet.quiz.passed", "a.b", "x1.y_2",
                                  "s" * 30 + "." + "n" * 33])
def test_given_a_type_of_the_form_namespace_dot_name_then_it_is_a_custom_event(jane, sender, kind):
    response = sender.post(cart_abandoned(type=kind, data=None))

    assert response["json"]["results"][0]["status"] == "accepted", response["json"]
    (entry,) = ContactStore().events(jane.id, kind)
    assert entry.detail == {}


@pytest.mark.parametrize("kind", ["map.enrolled", "automation.added", "goal.reached", "step.done", "tags.added",
                                  "order.shipped", "card.updated", "purchase.made_elsewhere", "course.finished",
                                  "contact.created", "email.opened", "page.visited", "task.completed"])
def test_given_a_custom_event_in_a_namespace_we_write_then_it_is_rejected_naming_type(jane, sender, kind):
    # GIVEN an event that would pass for one of our own
    before = item_count()

    # WHEN it is posted
    result = sender.post(cart_abandoned(type=kind))["json"]["results"][0]

    # THEN it is rejected on its type, saying the namespace is ours, and nothing is stored
    assert result["status"] == "rejected"
    assert [e["field"] for e in result["errors"]] == ["type"]
    assert f"namespace {kind.partition('.')[0]!r} is one the backend writes itself" in result["errors"][0]["error"]
    assert item_count() == before


def test_the_reserved_namespaces_cover_every_history_kind_in_the_architecture_document():
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "architecture.md").read_text()
    kinds_section = text.split("History kinds:", 1)[1].split("\n\n", 1)[0]
    import re

    namespaces = {kind.partition(".")[0] for kind in re.findall(r"`([a-z_]+(?:\.[a-z_]+)+)`", kinds_section)}
    assert namespaces and namespaces <= RESERVED_NAMESPACES, namespaces - RESERVED_NAMESPACES
    assert {"automation", "goal", "order", "card", "purchase"} <= RESERVED_NAMESPACES


@pytest.mark.parametrize(("sent", "field", "says"), [
    (cart_abandoned(type="Shop.cart"), "type", "not a known type"),
    (cart_abandoned(type="shop"), "type", "<namespace>.<name>"),
    (cart_abandoned(type="shop..x"), "type", "<namespace>.<name>"),
    (cart_abandoned(type="shop.x" + "y" * 60), "type", "at most 64"),
    (cart_abandoned(type="shop.cart-abandoned"), "type", "not a known type"),
    (cart_abandoned(colour="red"), "colour", "put attributes in data"),
    (cart_abandoned(data=["cart_8812"]), "data", "dictionary"),
    (cart_abandoned(data="cart_8812"), "data", "dictionary"),
    (cart_abandoned(data={f"k{i}": i for i in range(51)}), "data", "at most 50"),
    (with_data(address={"city": "Lyon"}), "data.address", "nested"),
    (with_data(items=[1, 2]), "data.items", "nested"),
    (with_data(note="x" * 501), "data.note", "longer than 500"),
    (with_data(note="a\u0000b"), "data.note", "control character"),
    (with_data(total=1e300), "data.total", "out of range"),
    (with_data(**{"1st": "x"}), "data.1st", "is not a key"),
    (with_data(**{"cart id": "x"}), "data.cart id", "is not a key"),
    (with_data(kind="cart"), "data.kind", "the trigger's event sets itself"),
    (with_data(type="cart"), "data.type", "the trigger's event sets itself"),
    (with_data(buyer="Jane <jane@example.com>"), "data.buyer", "email address"),
    (with_data(contact="+44 20 7946 0958"), "data.contact", "phone number"),
    (with_data(contact="4155550134"), "data.contact", "phone number"),
    (with_data(billing_phone="x"), "data.billing_phone", "names contact data"),
    (with_data(email=12), "data.email", "names contact data"),
    (with_data(paid_with="4242-4242-4242-4242"), "data.paid_with", "card number"),
])
def test_given_a_malformed_custom_event_in_a_batch_then_it_is_rejected_naming_the_field_and_the_others_land(
        jane, sender, sent, field, says):
    # GIVEN a batch of a payment event, the malformed custom event and a good custom event
    good = cart_abandoned(id="evt_shop_other", type="shop.viewed_pricing", data={"plan": "pro"})
    events = [payment("order.charged"), sent, good]

    # WHEN it is posted
    response = sender.post({"events": events})

    # THEN only the middle one is rejected, naming events[1].<field>; the others are recorded
    assert response["statusCode"] == 200
    results = response["json"]["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected", "accepted"], results
    assert any(e["field"] == f"events[1].{field}" and says in e["error"] for e in results[1]["errors"]), results[1]
    recorded = history(jane.id)
    assert set(recorded) - {"contact.created", "form.submitted", "tags.changed"} == {"order.charged",
                                                                                     "shop.viewed_pricing"}
    assert "jane@example.com" not in str(ContactStore().history(jane.id))


@pytest.mark.parametrize("data", [
    {"order_number": "4155550134"}, {"cart_id": "+1 415 555 0134"}, {"zip": "94107"}, {"placed_at": "1795000000"},
    {"day": "2026-11-01"}, {"total": "1234567.89"}, {"email_opt_in": True}, {"phone_verified": None},
    {"sku": "4006381333931"}, {"count": 4155550134}, {"note": "call before 5"}, {"rating": -0.5},
    {"big": 10 ** 40},
])
def test_given_custom_data_that_only_resembles_personal_data_then_it_is_taken(jane, sender, data):
    # GIVEN numbers under keys that name them, dates, decimals and flags about contact data
    response = sender.post(cart_abandoned(data=data))

    assert response["json"]["results"][0]["status"] == "accepted", response["json"]
    (entry,) = ContactStore().events(jane.id, "shop.cart_abandoned")
    assert entry.detail == data


def test_given_custom_events_naming_a_contact_by_id_or_a_new_email_then_they_are_recorded_on_that_contact(
        jane, sender):
    by_id = {**cart_abandoned(id="evt_by_id", email=None), "contact_id": jane.id}
    new = cart_abandoned(id="evt_new", email="sam@example.org")

    response = sender.post({"events": [by_id, new]})

    assert [r["status"] for r in response["json"]["results"]] == ["accepted", "accepted"]
    assert response["json"]["results"][1]["contact_created"] is True
    sam = ContactStore().find_by_email("sam@example.org")
    assert len(ContactStore().events(jane.id, "shop.cart_abandoned")) == 1
    assert len(ContactStore().events(sam.id, "shop.cart_abandoned")) == 1
