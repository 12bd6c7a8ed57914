"""POST /ingest/events: a signed course platform or shop posts what happened to people; each
event lands once on the contact's history as its type at its occurred_at."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from automaps.store.commerce import CommerceStore
from automaps.store.contacts import ContactStore
from tests.ingest.conftest import fixture_body, item_count

COURSE = "copywriting-basics"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def event(type_: str, id_: str, **fields) -> dict:
    return {"id": id_, "type": type_, "email": "jane@example.com", "occurred_at": "2026-11-01T10:00:00Z", **fields}


# ------------------------------------------------------------------ recorded


def test_given_a_signed_course_completed_event_then_it_is_on_the_contacts_history_at_its_time(jane, sender):
    response = sender.post()

    assert response["statusCode"] == 200
    assert response["json"] == {"accepted": 1, "duplicate": 0, "rejected": 0, "results": [
        {"index": 0, "id": "evt_tj_20261101_0001", "status": "accepted", "contact_id": jane.id}]}
    (completed,) = ContactStore().events(jane.id, "course.completed")
    assert completed.detail == {"course": COURSE}
    assert completed.at == at("2026-11-01T17:45:00Z") and completed.map_id is None


def test_given_a_batch_of_every_type_for_a_new_person_then_each_is_recorded_with_its_kind_detail_and_time(sender):
    batch = fixture_body("ingest_batch.json")["events"]

    response = sender.post(fixture="ingest_batch.json")

    assert response["statusCode"] == 200
    assert [r["status"] for r in response["json"]["results"]] == ["accepted"] * len(batch)
    assert response["json"]["results"][0]["contact_created"] is True
    sam = ContactStore().find_by_email("sam@example.org")
    recorded = {e.kind: e for e in ContactStore().history(sam.id) if e.kind != "contact.created"}
    assert {kind: entry.detail for kind, entry in recorded.items()} == {
        "account.created": {"platform": "trainingjet"},
        "course.subscribed": {"course": COURSE, "plan": "monthly", "starts_at": "2026-10-30T09:01:00Z"},
        "course.started": {"course": COURSE},
        "course.step_completed": {"course": COURSE, "step": "lesson-1"},
        "account.active": {"platform": "trainingjet"},
        "purchase.made": {"purchase_id": recorded["purchase.made"].detail["purchase_id"], "product": "ebook-101",
                          "quantity": 2, "price": "19.50", "currency": "EUR", "total": "39.00", "order_id": "5001"},
        "course.completed": {"course": COURSE},
        "course.unsubscribed": {"course": COURSE, "plan": "monthly"},
        "account.closed": {"platform": "trainingjet"},
    }
    for sent in batch:
        assert recorded[sent["type"]].at == at(sent["occurred_at"]), sent["type"]
    assert "sam@example.org" not in response["body"]


@pytest.mark.parametrize(("sent", "detail"), [
    (event("course.started", "e1", course=COURSE), {"course": COURSE}),
    (event("course.step_completed", "e2", course=COURSE, step="video-3"), {"course": COURSE, "step": "video-3"}),
    (event("course.completed", "e3", course=COURSE), {"course": COURSE}),
    (event("account.created", "e4", platform="trainingjet"), {"platform": "trainingjet"}),
    (event("account.active", "e5", platform="trainingjet"), {"platform": "trainingjet"}),
    (event("account.closed", "e6", platform="trainingjet"), {"platform": "trainingjet"}),
    (event("course.subscribed", "e7", course=COURSE),
     {"course": COURSE, "plan": "standard", "starts_at": "2026-11-01T10:00:00Z"}),
], ids=lambda value: value["type"] if isinstance(value, dict) and "type" in value else "")
def test_given_one_event_of_a_type_then_its_kind_and_detail_are_what_conditions_read(jane, sender, sent, detail):
    assert sender.post(sent)["json"]["accepted"] == 1

    (recorded,) = ContactStore().events(jane.id, sent["type"])
    assert recorded.detail == detail and recorded.at == at("2026-11-01T10:00:00Z")


def test_given_a_contact_named_by_id_then_the_event_is_theirs(jane, sender):
    sent = {**event("account.active", "e-by-id", platform="trainingjet"), "contact_id": jane.id}
    del sent["email"]

    assert sender.post(sent)["json"]["results"][0]["status"] == "accepted"
    assert ContactStore().last_event(jane.id, "account.active").at == at("2026-11-01T10:00:00Z")


def test_given_a_purchase_then_it_is_in_the_purchase_history_with_its_entry(jane, sender):
    sender.post(event("purchase.made", "ord-77-a", product="ebook-101", price="49", currency="USD", order_id="77"))

    (purchase,) = CommerceStore().purchases(jane.id)
    assert (purchase.product_id, purchase.quantity, purchase.price, purchase.total, purchase.order_id) == (
        "ebook-101", 1, Decimal("49"), Decimal("49"), "77")
    assert purchase.purchased_at == at("2026-11-01T10:00:00Z")
    assert CommerceStore().purchased(jane.id, "ebook-101")
    (made,) = ContactStore().events(jane.id, "purchase.made")
    assert made.detail["purchase_id"] == purchase.purchase_id


# ------------------------------------------------------------------ once per event id


def test_given_the_same_event_posted_twice_then_it_is_recorded_once(jane, sender):
    sender.post()

    again = sender.post()

    assert again["statusCode"] == 200
    assert again["json"]["results"][0]["status"] == "duplicate" and again["json"]["duplicate"] == 1
    assert len(ContactStore().events(jane.id, "course.completed")) == 1


def test_given_one_id_twice_in_a_batch_then_the_second_is_a_duplicate(jane, sender):
    sent = event("course.started", "e-twice", course=COURSE)

    results = sender.post({"events": [sent, {**sent, "course": "seo-101"}]})["json"]["results"]

    assert [r["status"] for r in results] == ["accepted", "duplicate"]
    assert [e.detail["course"] for e in ContactStore().events(jane.id, "course.started")] == [COURSE]


@pytest.mark.parametrize("sent", [
    event("purchase.made", "p-1", product="ebook-101", price="9.99", currency="USD", order_id="o-1"),
    event("course.subscribed", "s-1", course=COURSE, plan="yearly"),
    event("course.unsubscribed", "u-1", course=COURSE),
], ids=lambda value: value["type"])
def test_given_a_purchase_or_subscription_event_redelivered_then_it_is_taken_once(jane, sender, sent):
    if sent["type"] == "course.unsubscribed":
        sender.post(event("course.subscribed", "s-0", course=COURSE, occurred_at="2026-10-01T00:00:00Z"))
    first = sender.post(sent)
    before = item_count()

    again = sender.post({"events": [sent, sent]})

    assert first["json"]["accepted"] == 1
    assert [r["status"] for r in again["json"]["results"]] == ["duplicate", "duplicate"]
    assert item_count() == before
    assert len(ContactStore().events(jane.id, sent["type"])) == 1


def test_given_one_order_sent_as_two_events_then_the_purchase_is_recorded_once(jane, sender):
    purchase = event("purchase.made", "p-a", product="ebook-101", price="9.99", currency="USD", order_id="o-9")

    results = sender.post({"events": [purchase, {**purchase, "id": "p-b"}]})["json"]["results"]

    assert [r["status"] for r in results] == ["accepted", "duplicate"]
    assert "order 'o-9'" in results[1]["reason"]
    assert len(CommerceStore().purchases(jane.id)) == 1


# ------------------------------------------------------------------ malformed events


@pytest.mark.parametrize(("change", "field", "says"), [
    ({"course": None}, "course", "is required"),
    ({"type": "finished"}, "type", "not a known type"),
    ({"type": "course.finished"}, "type", "the namespace 'course' is one the backend writes itself"),
    ({"type": None}, "type", "is required"),
    ({"id": None}, "id", "is required"),
    ({"email": None}, "email", "exactly one"),
    ({"contact_id": "c_1"}, "email", "exactly one"),
    ({"email": "not-an-address"}, "email", "email"),
    ({"occurred_at": "2026-11-01T10:00:00"}, "occurred_at", "timezone"),
    ({"occurred_at": "2027-01-01T00:00:00Z"}, "occurred_at", "in the future"),
    ({"course": "Copy Writing!"}, "course", "letters, digits"),
    ({"colour": "red"}, "colour", "not a field of this event type"),
])
def test_given_a_malformed_event_in_a_batch_then_it_is_rejected_naming_index_and_field_and_the_others_land(
        jane, sender, change, field, says):
    good = event("course.started", "good-1", course=COURSE)
    bad = {k: v for k, v in {**event("course.completed", "bad-1", course=COURSE), **change}.items() if v is not None}

    response = sender.post({"events": [good, bad, {**good, "id": "good-2", "course": "seo-101"}]})

    assert response["statusCode"] == 200
    first, rejected, last = response["json"]["results"]
    assert (first["status"], rejected["status"], last["status"]) == ("accepted", "rejected", "accepted")
    assert rejected["index"] == 1
    assert any(e["field"] == ".".join(p for p in ("events[1]", field) if p) and says in e["error"]
               for e in rejected["errors"]), rejected
    assert rejected["reason"].startswith("events[1]")
    assert ContactStore().events(jane.id, "course.completed") == []
    assert len(ContactStore().events(jane.id, "course.started")) == 2


def test_given_an_unknown_contact_id_then_the_event_is_rejected_and_no_contact_is_made(aws, sender):
    sent = {**event("course.started", "e-ghost", course=COURSE), "contact_id": "c_ghost"}
    del sent["email"]
    before = item_count()

    result = sender.post(sent)["json"]["results"][0]

    assert result["status"] == "rejected" and result["errors"] == [{"field": "contact_id",
                                                                    "error": "no contact has this id"}]
    assert item_count() == before


@pytest.mark.parametrize(("change", "field"), [
    ({"currency": "usd"}, "currency"), ({"price": "-1"}, "price"), ({"price": "1.999"}, "price"),
    ({"quantity": 0}, "quantity"), ({"order_id": None}, "order_id"), ({"product": None}, "product"),
])
def test_given_a_bad_purchase_then_it_is_rejected_naming_the_field(jane, sender, change, field):
    sent = {k: v for k, v in {**event("purchase.made", "p-bad", product="ebook-101", price="9.99", currency="USD",
                                      order_id="o-1"), **change}.items() if v is not None}

    result = sender.post(sent)["json"]["results"][0]

    assert result["status"] == "rejected" and [e["field"] for e in result["errors"]] == [field]
    assert CommerceStore().purchases(jane.id) == []


@pytest.mark.parametrize(("body", "status", "says"), [
    ("not json", 400, "not valid JSON"),
    ("[]", 400, "one event"),
    ({"events": []}, 400, "non-empty list"),
    ({"events": "x"}, 400, "non-empty list"),
    ({"events": [{}], "more": 1}, 400, "nothing beside it"),
    ({"events": [{"id": str(i)} for i in range(101)]}, 400, "at most 100"),
    ("x" * 1_000_001, 413, "larger than"),
])
def test_given_a_body_that_is_no_event_or_batch_then_the_request_is_refused_and_nothing_recorded(
        aws, sender, body, status, says):
    before = item_count()

    response = sender.post(body)

    assert response["statusCode"] == status
    assert says in str(response["json"])
    assert item_count() == before
