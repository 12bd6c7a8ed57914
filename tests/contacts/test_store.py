"""The contacts store: one contact per email address, profile changes that survive races,
idempotent notes and enrollments, and a history that reads in the order things happened."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from automaps import aws as aws_clients
from automaps import config
from automaps.store.content import to_item
from automaps.store.contacts import (ContactNotFound, ContactStore, EmailInUse, EnrollmentNotFound, mask_email,
                               mask_phone)


@pytest.fixture
def store(aws, clock) -> ContactStore:
    return ContactStore()


def items(prefix: str) -> list[dict]:
    return aws_clients.client("dynamodb").scan(
        TableName=config.contacts_table(), FilterExpression="begins_with(sk, :p)",
        ExpressionAttributeValues={":p": {"S": prefix}})["Items"]


def in_threads(count: int, work: Callable[[int], object]) -> list[object]:
    results: list[object] = [None] * count
    start = threading.Barrier(count)

    def run(i: int) -> None:
        start.wait()
        results[i] = work(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


# ------------------------------------------------------------------ upsert by email


def test_given_a_new_address_when_upserted_then_a_contact_is_created_and_recorded(store):
    contact, created = store.upsert_by_email("  Jane.Doe@Example.COM ", {"first_name": "Jane"}, tags=["lead"])

    assert created
    assert contact.email == "Jane.Doe@Example.COM" and contact.fields["first_name"] == "Jane"
    assert contact.tags == {"lead"} and contact.version == 1
    assert store.get(contact.id) == contact
    (entry,) = store.history(contact.id)
    assert entry.kind == "contact.created" and entry.detail == {"fields": ["email", "first_name"]}


def test_given_a_known_address_in_other_case_when_upserted_then_fields_and_tags_merge_into_it(store):
    first, _ = store.upsert_by_email("jane@example.com", {"first_name": "Jane", "age": 40}, tags=["lead"])

    again, created = store.upsert_by_email("JANE@example.com", {"age": 41, "city": "Lyon"}, tags=["webinar"])

    assert not created and again.id == first.id
    assert again.fields == {"first_name": "Jane", "age": 41, "city": "Lyon", "email": "jane@example.com"}
    assert again.tags == {"lead", "webinar"} and again.version == 2
    assert store.find_by_email(" jane@EXAMPLE.com") == again


def test_given_nothing_new_when_upserted_again_then_the_profile_is_not_rewritten(store):
    first, _ = store.upsert_by_email("jane@example.com", {"first_name": "Jane"}, tags=["lead"])

    again, created = store.upsert_by_email("jane@example.com", {"first_name": "Jane"}, tags=["lead"])

    assert not created and again.version == first.version == 1


def test_given_twenty_concurrent_upserts_of_one_address_then_there_is_exactly_one_contact(store):
    variants = ["rush@example.com", "Rush@Example.com", " RUSH@example.com "]

    results = in_threads(20, lambda i: store.upsert_by_email(variants[i % 3], {f"answer_{i}": i}, tags=[f"t{i}"]))

    assert len({contact.id for contact, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert len(items("PROFILE")) == 1 and len(items("EMAIL")) == 1
    final = store.find_by_email("rush@example.com")
    assert {f"answer_{i}" for i in range(20)} <= set(final.fields)  # every writer's fields survived
    assert final.tags == {f"t{i}" for i in range(20)}
    assert [e.kind for e in store.history(final.id)] == ["contact.created"]


def test_given_a_contact_was_deleted_when_its_address_is_upserted_then_a_new_contact_takes_the_address(store):
    old, _ = store.upsert_by_email("gone@example.com", {})
    aws_clients.client("dynamodb").delete_item(TableName=config.contacts_table(),
                                               Key=to_item({"pk": f"CONTACT#{old.id}", "sk": "PROFILE"}))

    new, created = store.upsert_by_email("gone@example.com", {"first_name": "Back"})

    assert created and new.id != old.id
    assert store.find_by_email("gone@example.com").id == new.id


def test_given_something_that_is_not_an_address_when_upserted_then_it_is_refused(store):
    with pytest.raises(ValueError, match="not an email address"):
        store.upsert_by_email("jane at example.com", {})


def test_an_unknown_address_or_id_finds_nothing(store):
    assert store.find_by_email("nobody@example.com") is None
    assert store.get("c_nobody") is None
    with pytest.raises(ContactNotFound):
        store.require("c_nobody")


# ------------------------------------------------------------------ tags, fields, channels


def test_given_tags_when_changed_then_only_actual_changes_are_reported(store):
    contact, _ = store.upsert_by_email("jane@example.com", {}, tags=["lead", "cold"])

    updated, added, removed = store.change_tags(contact.id, add=["lead", "warm"], remove=["cold", "never-had"])

    assert (added, removed) == ({"warm"}, {"cold"})
    assert updated.tags == {"lead", "warm"} and updated.version == 2
    unchanged, added, removed = store.change_tags(contact.id, add=["warm"])
    assert (added, removed) == (set(), set()) and unchanged.version == 2


def test_given_fields_when_set_and_cleared_then_the_profile_has_the_new_values(store, clock):
    contact, _ = store.upsert_by_email("jane@example.com", {"first_name": "Jane", "company": "Acme"})
    clock.advance(hours=1)

    updated = store.update_fields(contact.id, {"first_name": "Janet", "score": 4.5,
                                               "seen_at": datetime(2026, 11, 2, 9, tzinfo=UTC)}, ["company"])

    assert updated.fields == {"first_name": "Janet", "score": 4.5, "seen_at": "2026-11-02T09:00:00Z",
                              "email": "jane@example.com"}
    assert updated.updated_at == datetime(2026, 11, 2, 9, tzinfo=UTC) and updated.created_at == contact.created_at
    assert store.get(contact.id) == updated


def test_given_concurrent_updates_of_one_contact_then_none_is_lost(store):
    contact, _ = store.upsert_by_email("busy@example.com", {})

    in_threads(10, lambda i: store.update_fields(contact.id, {f"f{i}": i}, []))
    in_threads(10, lambda i: store.change_tags(contact.id, add=[f"t{i}"]))

    final = store.get(contact.id)
    assert all(final.fields[f"f{i}"] == i for i in range(10))
    assert final.tags == {f"t{i}" for i in range(10)}
    assert final.version == 21


def test_given_a_new_address_when_the_email_field_changes_then_the_contact_is_found_by_it_only(store):
    contact, _ = store.upsert_by_email("old@example.com", {})

    store.update_fields(contact.id, {"email": "New@Example.com"}, [])

    assert store.find_by_email("new@example.com").id == contact.id
    assert store.find_by_email("old@example.com") is None
    assert len(items("EMAIL")) == 1


def test_given_an_address_of_another_contact_when_taken_then_it_is_refused_and_nothing_changes(store):
    jane, _ = store.upsert_by_email("jane@example.com", {})
    store.upsert_by_email("sam@example.com", {})

    with pytest.raises(EmailInUse, match=r"s\*\*\*@example.com"):
        store.update_fields(jane.id, {"email": "sam@example.com", "first_name": "Jane"}, [])

    assert store.get(jane.id) == jane
    with pytest.raises(ValueError, match="cannot be cleared"):
        store.update_fields(jane.id, {}, ["email"])


def test_given_a_contact_when_unsubscribed_from_a_channel_then_only_the_first_time_counts(store):
    contact, _ = store.upsert_by_email("jane@example.com", {})

    assert store.set_unsubscribed(contact.id, "sms") is True
    assert store.set_unsubscribed(contact.id, "sms") is False
    assert store.get(contact.id).unsubscribed == {"sms"}
    with pytest.raises(ValueError, match="unknown channel"):
        store.set_unsubscribed(contact.id, "fax")


def test_given_no_contact_when_it_is_changed_then_contact_not_found(store):
    with pytest.raises(ContactNotFound):
        store.change_tags("c_nobody", add=["x"])


# ------------------------------------------------------------------ notes


def test_given_a_note_id_when_the_note_is_added_twice_then_there_is_one_note(store, clock):
    contact, _ = store.upsert_by_email("jane@example.com", {})

    assert store.add_note(contact.id, "Called, will buy in May", "n1") is True
    clock.advance(minutes=5)
    assert store.add_note(contact.id, "Called, will buy in May", "n1") is False
    assert store.add_note(contact.id, "Bought", "n2") is True

    assert store.notes(contact.id) == [
        {"note_id": "n1", "text": "Called, will buy in May", "at": "2026-11-02T08:00:00Z"},
        {"note_id": "n2", "text": "Bought", "at": "2026-11-02T08:05:00Z"},
    ]


# ------------------------------------------------------------------ history


def test_given_entries_recorded_at_one_instant_when_read_then_they_come_in_recording_order(store):
    contact, _ = store.upsert_by_email("jane@example.com", {})

    for i in range(12):
        store.record(contact.id, "step.done", {"i": i}, map_id="m", step_id=f"s{i}")

    assert [e.detail["i"] for e in store.history(contact.id, kinds=["step.done"])] == list(range(12))


def test_given_entries_recorded_out_of_order_when_read_then_they_come_oldest_first(store):
    contact, _ = store.upsert_by_email("jane@example.com", {})
    base = datetime(2026, 11, 2, 8, 0, 1, tzinfo=UTC)
    for offset in (timedelta(seconds=1), timedelta(microseconds=500_000), timedelta(0), timedelta(days=-1)):
        store.record(contact.id, "note.added", {"at": (base + offset).isoformat()}, at=base + offset)

    entries = store.history(contact.id, kinds=["note.added"])

    assert [e.at for e in entries] == sorted(e.at for e in entries)
    assert entries[1].at == datetime(2026, 11, 2, 8, 0, 1, tzinfo=UTC)
    assert entries[2].at == datetime(2026, 11, 2, 8, 0, 1, 500_000, tzinfo=UTC)


def test_given_a_history_when_read_by_kind_then_only_those_kinds_come_back(store):
    contact, _ = store.upsert_by_email("jane@example.com", {})
    store.record(contact.id, "tags.changed", {"added": ["a"]}, map_id="m", step_id="s")
    store.record(contact.id, "email.sent", {"message_id": "x"})

    assert [e.kind for e in store.history(contact.id)] == ["contact.created", "tags.changed", "email.sent"]
    (entry,) = store.history(contact.id, kinds={"tags.changed"})
    assert (entry.map_id, entry.step_id, entry.detail) == ("m", "s", {"added": ["a"]})
    assert store.history(contact.id, kinds=[]) == []


# ------------------------------------------------------------------ enrollments


def test_given_an_enrollment_id_when_created_twice_then_the_second_is_refused(store):
    contact, _ = store.upsert_by_email("jane@example.com", {})
    event = {"type": "form_submitted", "fields": {"score": 1.5}}

    assert store.create_enrollment(contact.id, "welcome", "e_1", event) is True
    assert store.create_enrollment(contact.id, "welcome", "e_1", {"other": True}) is False

    enrollment = store.get_enrollment(contact.id, "welcome", "e_1")
    assert enrollment.status == "active" and enrollment.event == event and enrollment.execution_arn is None
    assert enrollment.started_at == datetime(2026, 11, 2, 8, tzinfo=UTC)


def test_given_enrollments_in_maps_with_similar_ids_when_listed_by_map_then_each_map_has_its_own(store):
    contact, _ = store.upsert_by_email("jane@example.com", {})
    store.create_enrollment(contact.id, "welcome", "e_1", {})
    store.create_enrollment(contact.id, "welcome-leads", "e_2", {})

    assert [e.enrollment_id for e in store.enrollments(contact.id, "welcome")] == ["e_1"]
    assert sorted(e.map_id for e in store.enrollments(contact.id)) == ["welcome", "welcome-leads"]


def test_given_an_active_enrollment_when_exited_twice_then_only_the_first_exit_counts(store, clock):
    contact, _ = store.upsert_by_email("jane@example.com", {})
    store.create_enrollment(contact.id, "welcome", "e_1", {})
    store.set_execution_arn(contact.id, "welcome", "e_1", "arn:aws:states:us-east-1:123456789012:execution:m:e_1")
    clock.advance(days=3)

    assert store.mark_exited(contact.id, "welcome", "e_1", "completed") is True
    assert store.mark_exited(contact.id, "welcome", "e_1", "end") is False

    enrollment = store.get_enrollment(contact.id, "welcome", "e_1")
    assert (enrollment.status, enrollment.exit_reason) == ("exited", "completed")
    assert enrollment.exited_at == datetime(2026, 11, 5, 8, tzinfo=UTC)
    assert enrollment.execution_arn.endswith(":e_1")


def test_given_no_enrollment_when_exited_or_given_an_arn_then_it_is_not_found(store):
    with pytest.raises(EnrollmentNotFound):
        store.mark_exited("c_x", "welcome", "e_404", "end")
    with pytest.raises(EnrollmentNotFound):
        store.set_execution_arn("c_x", "welcome", "e_404", "arn:x")
    assert store.get_enrollment("c_x", "welcome", "e_404") is None


# ------------------------------------------------------------------ masking


@pytest.mark.parametrize("email, masked", [
    ("john@example.com", "j***@example.com"), (" a@b.io", "a***@b.io"), ("nonsense", "***"), (None, ""),
])
def test_email_addresses_are_masked_for_logs(email, masked):
    assert mask_email(email) == masked


@pytest.mark.parametrize("phone, masked", [
    ("+15551234567", "+1******4567"), ("+1 (555) 123-4567", "+1******4567"), ("0612345678", "0*****5678"),
    ("1234", "****"), (None, ""),
])
def test_phone_numbers_are_masked_for_logs(phone, masked):
    assert mask_phone(phone) == masked


# ------------------------------------------------------------------ events by kind and time


def test_events_are_queryable_by_kind_and_time_window(store):
    # given a contact with opens and clicks recorded at different times
    contact, _ = store.upsert_by_email("jane@example.com", {})
    day = datetime(2026, 11, 20, 12, tzinfo=UTC)
    for hours, kind in [(0, "email.opened"), (1, "email.clicked"), (24, "email.opened"), (48, "email.opened")]:
        store.record(contact.id, kind, {"n": hours}, at=day + timedelta(hours=hours))

    # when we ask for opens in a window, then only those come back, oldest first
    window = store.events(contact.id, "email.opened", since=day + timedelta(hours=1), until=day + timedelta(hours=24))
    assert [e.detail["n"] for e in window] == [24]
    assert [e.detail["n"] for e in store.events(contact.id, "email.opened")] == [0, 24, 48]
    assert [e.detail["n"] for e in store.events(contact.id, "email.opened", since=day + timedelta(hours=24))] == [24, 48]
    # and the newest one is one query away; a kind never recorded has none
    assert store.last_event(contact.id, "email.opened").detail["n"] == 48
    assert store.last_event(contact.id, "email.bounced") is None
    # and a kind that is a prefix of another is not confused with it
    store.record(contact.id, "email.opened_twice", {"n": 99}, at=day)
    assert len(store.events(contact.id, "email.opened")) == 3
