"""Conditions on what the contact is and has: tags, fields, the date added, form submissions,
products, purchases, lists, automations, event attributes, and the clock. Each is decided by the
check_condition function on a history built through the real paths (forms, stores, actions),
negated too, and recorded with the inputs it read."""

from __future__ import annotations

import pytest
from automaps.intake import forms
from automaps.store.commerce import CommerceStore, Product
from automaps.store.contacts import ContactStore
from automaps.store.lists import ListStore

from functions.add_purchase import app as add_purchase
from functions.change_tags import app as change_tags
from tests.actions.conftest import event_for

# ---------------------------------------------------------------- tags and fields

@pytest.mark.parametrize(("condition", "expected"), [
    ({"has_tag": "lead"}, True),
    ({"has_tag": "customer"}, False),
])
def test_has_tag(decide, condition, expected):
    assert decide(condition) is expected


@pytest.mark.parametrize(("test", "expected"), [
    ({"name": "age", "eq": 52}, True), ({"name": "age", "eq": "52"}, True), ({"name": "age", "ne": 52}, False),
    ({"name": "age", "gt": 45}, True), ({"name": "age", "gt": 52}, False), ({"name": "age", "ge": 52}, True),
    ({"name": "age", "lt": 60}, True), ({"name": "age", "le": 51}, False),
    ({"name": "plan", "eq": "pro"}, True),          # text compares without case
    ({"name": "plan", "contains": "r"}, True), ({"name": "plan", "contains": "x"}, False),
    ({"name": "plan", "starts_with": "PR"}, True), ({"name": "plan", "starts_with": "ro"}, False),
    ({"name": "phone", "is_set": True}, False), ({"name": "phone", "is_empty": True}, True),
    ({"name": "first_name", "is_set": True}, True),
    ({"name": "renewal_at", "before": "2026-12-01T00:00:00Z"}, True),
    ({"name": "renewal_at", "after": "2026-12-01T00:00:00Z"}, False),
    ({"name": "renewal_at", "within_last": {"days": 30}}, False),   # it is in the future
    ({"name": "missing", "ne": "x"}, True), ({"name": "missing", "eq": "x"}, False),
])
def test_field_operators(decide, test, expected):
    assert decide({"field": test}) is expected


# ---------------------------------------------------------------- dates on the contact

@pytest.mark.parametrize(("test", "expected"), [
    ({"on": "2026-11-02"}, True),                      # 03:00 in New York on the 2nd
    ({"on": "2026-11-01"}, False),
    ({"before": "2026-11-03"}, True), ({"before": "2026-11-02"}, False),
    ({"after": "2026-11-01"}, True), ({"after": "2026-11-02"}, False),   # after the whole day
    ({"between": ["2026-11-01", "2026-11-02"]}, True), ({"between": ["2026-11-03", "2026-11-09"]}, False),
    ({"within_last": {"days": 1}}, True),
    ({"after": "2026-11-02T07:00:00Z"}, True),
])
def test_date_added(decide, test, expected):
    assert decide({"date_added": test}) is expected


def test_date_added_reads_calendar_days_in_the_contacts_timezone_else_the_maps(decide, store, clock, jane):
    # given a contact without timezone created at 2026-11-02 08:00Z (the 2nd in UTC, still the 2nd in Paris)
    clock.advance(hours=15)   # 23:00Z: the 3rd in Paris, the 2nd in UTC
    late, _ = store.upsert_by_email("late@example.com", {})

    assert decide({"date_added": {"on": "2026-11-03"}}, contact=late, fallback_timezone="Europe/Paris") is True
    assert decide({"date_added": {"on": "2026-11-02"}}, contact=late, fallback_timezone="UTC") is True
    # and the timezone it used is on the history
    recorded = store.last_event(late.id, "condition.evaluated")
    assert recorded.detail["inputs"][0]["timezone"] == "UTC"


def test_last_form_submit_date(decide, aws, clock, jane):
    # given Jane submitted the newsletter form on the 2nd, and the webinar form two days later
    _push_forms()
    forms.submit("newsletter", {"email": "jane@example.com", "first_name": "Jane"})
    clock.advance(days=2)
    forms.submit("webinar", {"email": "jane@example.com", "first_name": "Jane",
                             "webinar_at": "2026-12-01T17:00:00Z"})

    assert decide({"last_form_submit_date": {"on": "2026-11-04"}}) is True
    assert decide({"last_form_submit_date": {"form": "newsletter", "before": "2026-11-03"}}) is True
    assert decide({"last_form_submit_date": {"within_last": {"hours": 1}}}) is True
    assert decide({"last_form_submit_date": {"form": "newsletter", "within_last": {"days": 1}}}) is False
    assert decide({"last_form_submit_date": {"form": "cancel-membership", "after": "2026-01-01"}}) is False


def _push_forms() -> None:
    """The forms of content/forms, stored as `automaps push` stores them (no maps: nobody is enrolled)."""
    from automaps.store.content import ContentStore
    from automaps_local.push import load_forms

    from tests.conftest import ROOT

    for form_id, body in load_forms(ROOT).items():
        ContentStore().put("FORM", form_id, body)


# ---------------------------------------------------------------- commerce

PURCHASE = {"product": "course-pro", "quantity": 1, "price": "49.00", "currency": "USD", "order_id": "o-1001"}


def test_has_product(decide, jane):
    CommerceStore().add_product(jane.id, Product(product_id="ebook-101", added_at=jane.created_at),
                                lambda product: ContactStore().record(jane.id, "product.added",
                                                                      {"product": product.product_id}))

    assert decide({"has_product": "ebook-101"}) is True
    assert decide({"has_product": {"product": "course-101"}}) is False


def test_purchased_product_through_the_add_purchase_action(decide, jane, clock, lambda_context):
    add_purchase.lambda_handler(event_for("add_purchase", jane, settings=PURCHASE), lambda_context)
    clock.advance(days=10)
    product = PURCHASE["product"]

    assert decide({"purchased_product": product}) is True
    assert decide({"purchased_product": True}) is True           # any product
    assert decide({"purchased_product": {"product": product, "within": {"days": 7}}}) is False
    assert decide({"purchased_product": "something-else"}) is False


def test_event_attribute(decide, jane, lambda_context):
    add_purchase.lambda_handler(event_for("add_purchase", jane, settings=PURCHASE), lambda_context)

    assert decide({"event_attribute": {"event": "purchase.made"}}) is True
    assert decide({"event_attribute": {"event": "purchase.made", "name": "total", "gt": 40}}) is True
    assert decide({"event_attribute": {"event": "purchase.made", "name": "total", "gt": 100}}) is False
    assert decide({"event_attribute": {"event": "purchase.made", "name": "currency", "eq": "usd"}}) is True
    assert decide({"event_attribute": {"event": "form.submitted"}}) is False


# ---------------------------------------------------------------- lists and automations

def test_on_list(decide, jane):
    ListStore().add("list", "weekly-digest", jane.id)

    assert decide({"on_list": "weekly-digest"}) is True
    assert decide({"on_list": "monthly"}) is False


# ---------------------------------------------------------------- the clock

@pytest.mark.parametrize(("test", "expected"), [
    ({"on": "2026-11-02"}, True), ({"before": "2026-11-03"}, True), ({"after": "2026-11-02"}, False),
    ({"between": ["2026-11-01", "2026-11-30"]}, True), ({"weekdays": ["mon"]}, True),
    ({"weekdays": ["sat", "sun"]}, False), ({"after": "2026-10-31", "weekdays": ["mon", "tue"]}, True),
])
def test_current_date(decide, test, expected):
    # the clock stands at Monday 2026-11-02 08:00Z, 03:00 in New York
    assert decide({"current_date": test}) is expected


@pytest.mark.parametrize(("test", "expected"), [
    ({"between": ["09:00", "17:00"]}, False),                          # 03:00 in New York
    ({"between": ["22:00", "06:00"]}, True),                           # a window over midnight
    ({"before": "09:00"}, True), ({"after": "09:00"}, False),
    ({"between": ["09:00", "17:00"], "timezone": "Europe/Paris"}, True),   # 09:00 in Paris
    ({"after": "08:00", "timezone": "UTC"}, True),
])
def test_current_time(decide, test, expected):
    assert decide({"current_time": test}) is expected


def test_current_time_moves_with_daylight_saving(decide, clock):
    # New York moves to daylight saving time on 2027-03-14: 14:00Z is 09:00 before, 10:00 after
    morning = {"current_time": {"between": ["09:00", "09:30"]}}
    clock.advance(days=130, hours=6)                         # Friday 2027-03-12 14:00Z
    assert decide(morning) is True
    clock.advance(days=3)                                    # Monday 2027-03-15 14:00Z = 10:00 EDT
    assert decide(morning) is False
    clock.advance(hours=23)                                  # Tuesday 13:00Z = 09:00 EDT
    assert decide(morning) is True


# ---------------------------------------------------------------- combinations and the record

def test_all_any_not_combine_and_stop_early(decide, jane, store):
    assert decide({"all": [{"has_tag": "lead"}, {"field": {"name": "age", "gt": 45}}]}) is True
    assert decide({"any": [{"has_tag": "customer"}, {"not": {"has_tag": "lead"}}]}) is False
    decide({"any": [{"has_tag": "lead"}, {"has_product": "x"}]}, negate=False)
    inputs = store.last_event(jane.id, "condition.evaluated").detail["inputs"]
    assert [i["condition"] for i in inputs] == ["has_tag"], "any stops at the first leaf that holds"
    assert inputs[0] == {"condition": "has_tag", "has_tag": "lead", "tags": ["lead", "newsletter"], "result": True}


def test_a_contact_that_no_longer_exists_is_taken_as_false(aws, lambda_context):
    from functions.check_condition import app as check_condition
    from tests.conftest import load_event

    assert check_condition.lambda_handler(load_event("check_condition.json"), lambda_context) == {"result": False}


def test_switch_cases_are_decided_in_one_call_first_match_wins(jane, store, lambda_context):
    from functions.check_condition import app as check_condition
    from tests.conftest import load_event

    event = {**load_event("check_condition.json"), "contact_id": jane.id, "condition": None,
             "cases": [{"has_tag": "customer"}, {"field": {"name": "age", "gt": 45}}, {"has_tag": "lead"}]}
    event.pop("condition")

    assert check_condition.lambda_handler(event, lambda_context) == {"case": 1}
    recorded = store.last_event(jane.id, "condition.evaluated").detail
    assert recorded["case"] == 1 and [c["result"] for c in recorded["cases"]] == [False, True]


def test_within_is_measured_back_from_now(decide, jane, clock, lambda_context):
    change_tags.lambda_handler(event_for("change_tags", jane, settings={"add": ["vip"]}), lambda_context)
    clock.advance(days=3)
    assert decide({"event_attribute": {"event": "tags.changed", "within": {"days": 2}}}) is False
    assert decide({"event_attribute": {"event": "tags.changed", "within": {"days": 4}}}) is True
