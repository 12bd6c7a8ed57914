"""add_to_list / remove_from_list (email broadcast lists) and send_to_fulfillment /
remove_from_fulfillment (fulfillment lists, with a snapshot of chosen fields): one membership
however often a step runs, readable by contact and by list without a scan."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from automaps import aws as aws_clients
from automaps.actions import add_to_list, send_to_fulfillment
from automaps.store.lists import ListStore
from functions.add_to_list import app as add_app
from functions.remove_from_fulfillment import app as unfulfil_app
from functions.remove_from_list import app as remove_app
from functions.send_to_fulfillment import app as fulfil_app
from tests.actions.sending import a_contact, history, task_event
from tests.actions.conftest import retried_alike


@pytest.fixture
def ready(aws, clock):
    """GIVEN the stack is up and the clock stands still."""


def no_scans(monkeypatch):
    """Fail the test if anything scans the contacts table."""
    client = aws_clients.client("dynamodb")

    def refuse(*args, **kwargs):
        raise AssertionError("the contacts table was scanned")

    monkeypatch.setattr(client, "scan", refuse)


# ---------------------------------------------------------------- broadcast lists


def test_given_a_contact_when_added_to_a_list_then_both_sides_show_the_membership(ready, lambda_context, monkeypatch):
    jane = a_contact(first_name="Jane")

    result = add_app.lambda_handler(task_event("add_to_list.json", jane), lambda_context)

    assert result["outcome"] == "done"
    no_scans(monkeypatch)
    assert ListStore().lists_of("list", jane.id) == ["weekly-newsletter"]
    assert [m["contact_id"] for m in ListStore().members("list", "weekly-newsletter")] == [jane.id]
    [entry] = history(jane, "list.added")
    assert entry.detail == {"list": "weekly-newsletter"} and entry.step_id == "join-newsletter"


def test_given_a_member_when_added_again_by_a_later_visit_then_still_one_membership_and_one_record(
        ready, lambda_context):
    jane = a_contact(first_name="Jane")
    add_app.lambda_handler(task_event("add_to_list.json", jane), lambda_context)

    again = add_app.lambda_handler(task_event("add_to_list.json", jane, state_entered_time="2026-11-09T08:00:00Z"),
                                   lambda_context)

    assert (again["outcome"], again["reason"]) == ("done", "already on the list")
    assert len(list(ListStore().members("list", "weekly-newsletter"))) == 1
    assert len(history(jane, "list.added")) == 1


def test_given_the_same_task_event_twice_then_one_membership(ready, lambda_context):
    jane = a_contact(first_name="Jane")
    event = task_event("add_to_list.json", jane)

    first = add_app.lambda_handler(event, lambda_context)
    assert retried_alike(add_app.lambda_handler(event, lambda_context), first)
    assert len(history(jane, "list.added")) == 1


def test_given_a_contact_without_email_when_added_then_the_step_is_skipped(ready, lambda_context):
    nomail = a_contact(None, first_name="Nobody")

    result = add_app.lambda_handler(task_event("add_to_list.json", nomail), lambda_context)

    assert (result["outcome"], result["reason"]) == ("skipped", "the contact has no email address")
    assert list(ListStore().members("list", "weekly-newsletter")) == []


def test_given_two_members_when_one_is_removed_then_only_the_other_stays(ready, lambda_context):
    jane, john = a_contact(first_name="Jane"), a_contact("john@example.com", first_name="John")
    for contact in (jane, john):
        add_app.lambda_handler(task_event("add_to_list.json", contact, execution_id=f"x-{contact.id}"), lambda_context)

    result = remove_app.lambda_handler(task_event("remove_from_list.json", jane), lambda_context)

    assert result["outcome"] == "done"
    assert [m["contact_id"] for m in ListStore().members("list", "weekly-newsletter")] == [john.id]
    assert ListStore().lists_of("list", jane.id) == []
    assert [e.detail for e in history(jane, "list.removed")] == [{"list": "weekly-newsletter"}]


def test_given_a_contact_not_on_the_list_when_removed_then_done_saying_so_and_nothing_recorded(ready, lambda_context):
    jane = a_contact(first_name="Jane")

    result = remove_app.lambda_handler(task_event("remove_from_list.json", jane), lambda_context)

    assert (result["outcome"], result["reason"]) == ("done", "not on the list")
    assert history(jane, "list.removed") == []


def test_given_a_broadcast_and_a_fulfillment_list_of_one_name_then_they_are_separate(ready, lambda_context):
    jane = a_contact(first_name="Jane")
    add_app.lambda_handler(task_event("add_to_list.json", jane, settings={"list": "vip"}), lambda_context)

    assert list(ListStore().members("fulfillment", "vip")) == []


@pytest.mark.parametrize(("settings", "message"), [
    ({}, "Field required"),
    ({"list": ""}, "is not allowed"),
    ({"list": "VIP customers"}, "letters, digits"),
    ({"list": "x" * 101}, "is not allowed"),
    ({"list": "vip", "tag": "x"}, "Extra inputs"),
])
def test_given_bad_list_settings_then_they_are_refused_saying_what_to_change(settings, message):
    with pytest.raises(ValidationError, match=message):
        add_to_list.Settings.model_validate(settings)


# ---------------------------------------------------------------- fulfillment lists


def test_given_a_contact_when_sent_to_fulfillment_then_the_chosen_fields_are_snapshotted(ready, lambda_context):
    jane = a_contact(first_name="Jane", last_name="Doe", address="1 Main St", city="Springfield", age=52)

    result = fulfil_app.lambda_handler(task_event("send_to_fulfillment.json", jane), lambda_context)

    assert result["outcome"] == "done"
    [member] = ListStore().members("fulfillment", "welcome-kit")
    assert member["fields"] == {"first_name": "Jane", "last_name": "Doe", "address": "1 Main St",
                                "city": "Springfield"}  # no country on file: left out, not a skip
    assert member["added_at"] == "2026-11-02T08:00:00Z"
    [entry] = history(jane, "fulfillment.added")
    assert entry.detail == {"list": "welcome-kit", "fields": ["address", "city", "first_name", "last_name"]}


def test_given_a_member_whose_address_changed_when_sent_again_then_the_first_snapshot_stays(ready, lambda_context):
    from automaps.store.contacts import ContactStore

    jane = a_contact(first_name="Jane", address="1 Main St")
    fulfil_app.lambda_handler(task_event("send_to_fulfillment.json", jane), lambda_context)
    ContactStore().update_fields(jane.id, {"address": "2 Elm St"})

    again = fulfil_app.lambda_handler(task_event("send_to_fulfillment.json", jane, state_entered_time="2026-11-09T08:00:00Z"),
                                      lambda_context)

    assert (again["outcome"], again["reason"]) == ("done", "already on the fulfillment list")
    [member] = ListStore().members("fulfillment", "welcome-kit")
    assert member["fields"]["address"] == "1 Main St"
    assert len(history(jane, "fulfillment.added")) == 1


def test_given_a_member_when_removed_from_fulfillment_then_the_list_no_longer_has_them(ready, lambda_context):
    jane = a_contact(first_name="Jane")
    fulfil_app.lambda_handler(task_event("send_to_fulfillment.json", jane), lambda_context)

    first = unfulfil_app.lambda_handler(task_event("remove_from_fulfillment.json", jane), lambda_context)
    again = unfulfil_app.lambda_handler(task_event("remove_from_fulfillment.json", jane,
                                                   state_entered_time="2026-11-09T08:00:00Z"), lambda_context)

    assert first["outcome"] == "done" and again["reason"] == "not on the fulfillment list"
    assert list(ListStore().members("fulfillment", "welcome-kit")) == []
    assert [e.detail for e in history(jane, "fulfillment.removed")] == [{"list": "welcome-kit"}]


def test_given_dynamodb_throttles_then_the_step_raises_transient_and_the_retry_adds_once(ready, lambda_context):
    from botocore.stub import Stubber

    from automaps.journeys.steps import TransientError

    jane = a_contact(first_name="Jane")
    event = task_event("send_to_fulfillment.json", jane)
    client = aws_clients.client("dynamodb")
    real = client.transact_write_items
    calls = []

    def throttled_once(**kwargs):
        """The membership write is throttled the first time (the other calls reach moto)."""
        calls.append(kwargs)
        if len(calls) > 1:
            return real(**kwargs)
        with Stubber(client) as stub:
            stub.add_client_error("transact_write_items", service_error_code="ThrottlingException",
                                  http_status_code=400)
            return real(**kwargs)

    client.transact_write_items = throttled_once
    try:
        with pytest.raises(TransientError):
            fulfil_app.lambda_handler(event, lambda_context)
        assert fulfil_app.lambda_handler(event, lambda_context)["outcome"] == "done"
    finally:
        del client.transact_write_items
    assert len(list(ListStore().members("fulfillment", "welcome-kit"))) == 1


@pytest.mark.parametrize(("settings", "message"), [
    ({"list": "kit", "fields": []}, "at least 1 item"),
    ({"list": "kit", "fields": ["first name"]}, "is not a contact field name"),
    ({"list": "kit", "fields": ["contact_id"]}, "always exported"),
    ({"list": "kit", "fields": ["city", "city"]}, "listed twice"),
    ({"list": "bad name"}, "is not allowed"),
])
def test_given_bad_fulfillment_settings_then_they_are_refused_saying_what_to_change(settings, message):
    with pytest.raises(ValidationError, match=message):
        send_to_fulfillment.Settings.model_validate(settings)


def test_given_no_fields_then_first_name_last_name_and_email_are_snapshotted():
    assert send_to_fulfillment.Settings(list="kit").fields == ["first_name", "last_name", "email"]

