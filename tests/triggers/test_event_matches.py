"""The event matcher (``event: {kind, where}``) others build on: goals, wait_until, the generic trigger."""

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from automaps.journeys.triggers import event_matches
from automaps.maps.triggers import EventSpec

PURCHASE = {"product": "course-101", "order_id": "A-17", "total": "49.00", "quantity": 1, "currency": "USD",
            "tags": ["vip", "early"], "fields": {"plan": "gold"}}


def test_given_a_plain_value_when_the_attribute_equals_it_then_the_event_matches():
    # GIVEN a spec naming the cart's order id, as a rendered merge field would give it
    spec = {"kind": "purchase.made", "where": {"order_id": "A-17"}}
    # WHEN / THEN that order's purchase matches, another order's and another kind do not
    assert event_matches(spec, "purchase.made", PURCHASE)
    assert not event_matches(spec, "purchase.made", {**PURCHASE, "order_id": "A-18"})
    assert not event_matches(spec, "purchase.refunded", PURCHASE)


def test_given_numbers_and_decimal_strings_then_they_compare_as_numbers():
    # GIVEN amounts stored as decimal strings and operands written as numbers or strings
    assert event_matches({"kind": "purchase.made", "where": {"total": 49}}, "purchase.made", PURCHASE)
    assert event_matches({"kind": "purchase.made", "where": {"total": {"gte": "45.5", "lt": 100}}},
                         "purchase.made", PURCHASE)
    assert not event_matches({"kind": "purchase.made", "where": {"total": {"gt": 49}}}, "purchase.made", PURCHASE)
    assert event_matches({"kind": "purchase.made", "where": {"quantity": {"lte": "1"}}}, "purchase.made", PURCHASE)
    # "100" > "49.00" as numbers, though not as text
    assert event_matches({"kind": "purchase.made", "where": {"total": {"lt": "100"}}}, "purchase.made", PURCHASE)


@pytest.mark.parametrize(("test", "expected"), [
    ({"equals": "course-101"}, True),
    ({"not_equals": "course-101"}, False),
    ({"in": ["course-100", "course-101"]}, True),
    ({"not_in": ["course-100", "course-101"]}, False),
    ({"contains": "COURSE"}, True),
    ({"starts_with": "course-"}, True),
    ({"starts_with": "ebook-"}, False),
    ({"exists": True}, True),
    ({"exists": False}, False),
])
def test_given_each_operator_on_a_present_attribute_then_it_decides(test, expected):
    assert event_matches({"kind": "purchase.made", "where": {"product": test}}, "purchase.made", PURCHASE) is expected


def test_given_an_absent_attribute_then_only_negative_tests_hold():
    where = {"coupon": {"exists": False}, "refund_id": {"not_equals": "r1"}, "reason": {"not_in": ["fraud"]}}
    assert event_matches({"kind": "purchase.made", "where": where}, "purchase.made", PURCHASE)
    for test in ({"equals": "x"}, "x", {"gt": 1}, {"contains": "x"}, {"exists": True}, {"in": ["x"]}):
        assert not event_matches({"kind": "purchase.made", "where": {"coupon": test}}, "purchase.made", PURCHASE)


def test_given_lists_and_nested_attributes_then_contains_and_dotted_paths_read_them():
    assert event_matches({"kind": "purchase.made", "where": {"tags": {"contains": "vip"}}}, "purchase.made", PURCHASE)
    assert not event_matches({"kind": "purchase.made", "where": {"tags": {"contains": "late"}}},
                             "purchase.made", PURCHASE)
    assert event_matches({"kind": "purchase.made", "where": {"fields.plan": "gold"}}, "purchase.made", PURCHASE)


def test_given_the_entry_time_then_at_is_an_attribute_compared_as_iso_text():
    at = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    spec = EventSpec(kind="purchase.made", where={"at": {"gte": "2026-11-01T00:00:00Z"}})
    assert event_matches(spec, "purchase.made", PURCHASE, at=at)
    assert not event_matches(spec, "purchase.made", PURCHASE, at=datetime(2026, 10, 2, tzinfo=UTC))


@pytest.mark.parametrize(("spec", "message"), [
    ({"kind": "purchase", "where": {}}, "String should match pattern"),
    ({"kind": "purchase.made", "where": {"total": {"greater": 5}}}, "unknown operator 'greater'"),
    ({"kind": "purchase.made", "where": {"total": {"gte": [1]}}}, "where.total.gte takes a number"),
    ({"kind": "purchase.made", "where": {"product": {"in": "a"}}}, "where.product.in takes a list"),
    ({"kind": "purchase.made", "where": {"product": {"exists": "yes"}}}, "exists takes true or false"),
    ({"kind": "purchase.made", "where": {"product": {}}}, "give a value or one of"),
    ({"kind": "purchase.made", "where": ["product"]}, "where is a mapping"),
    ({"kind": "purchase.made", "filter": {}}, "Extra inputs are not permitted"),
])
def test_given_a_bad_spec_then_the_error_says_what_to_write(spec, message):
    with pytest.raises(ValidationError, match=message):
        EventSpec.model_validate(spec)
