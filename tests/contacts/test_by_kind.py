"""The ByKind index holds the history kinds read by kind over a window (conditions, frequency caps,
goals and any event from outside), not the journey's own bookkeeping (issue 11, "Cost per
journey"): each entry copied into it costs a write unit. Every kind stays readable by kind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from automaps import aws, config
from automaps.store import kinds
from automaps.store.content import to_item

DAY = datetime(2026, 11, 20, 12, tzinfo=UTC)


def in_index(contact_id: str) -> list[str]:
    """The kinds of the contact's entries the ByKind index holds."""
    found = aws.client("dynamodb").query(
        TableName=config.contacts_table(), IndexName="ByKind", KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues=to_item({":pk": f"CONTACT#{contact_id}"}))["Items"]
    return sorted(item["kind"]["S"] for item in found)


def test_the_kinds_conditions_read_are_found_in_the_conditions_themselves():
    assert {"email.opened", "email.clicked", "page.visited", "purchase.made", "form.submitted",
            "course.completed", "account.active"} <= (kinds.condition_kinds() or set())
    assert {"email.sent", "sms.sent"} <= (kinds.queried_kinds() or set())  # what frequency caps count


def test_given_the_conditions_source_cannot_be_read_then_every_kind_is_indexed(monkeypatch, tmp_path):
    monkeypatch.setattr(kinds, "_EVALUATE", tmp_path / "missing.py")
    kinds.condition_kinds.cache_clear()
    kinds.queried_kinds.cache_clear()
    try:
        assert kinds.indexed("step.done") and kinds.indexed("email.opened")
    finally:
        monkeypatch.undo()
        kinds.condition_kinds.cache_clear()
        kinds.queried_kinds.cache_clear()
    assert not kinds.indexed("step.done")


def test_given_entries_of_every_sort_then_only_the_bookkeeping_stays_out_of_the_index(store):
    contact, _ = store.upsert_by_email("jane@example.com", {})
    for n, kind in enumerate(["step.done", "condition.evaluated", "map.exited", "email.opened", "email.sent",
                              "tags.changed", "webinar.attended"]):
        store.record(contact.id, kind, {"n": n}, at=DAY + timedelta(minutes=n))

    assert in_index(contact.id) == ["contact.created", "email.opened", "email.sent", "tags.changed", "webinar.attended"]


def test_given_a_kind_outside_the_index_then_it_is_read_by_kind_and_window_all_the_same(store):
    contact, _ = store.upsert_by_email("jane@example.com", {})
    for hours, kind in [(0, "step.done"), (1, "email.opened"), (24, "step.done"), (48, "step.done"),
                        (49, "step.done_twice")]:
        store.record(contact.id, kind, {"n": hours}, at=DAY + timedelta(hours=hours))

    assert [e.detail["n"] for e in store.events(contact.id, "step.done")] == [0, 24, 48]
    window = store.events(contact.id, "step.done", since=DAY + timedelta(hours=1), until=DAY + timedelta(hours=24))
    assert [e.detail["n"] for e in window] == [24]
    assert store.last_event(contact.id, "step.done").detail["n"] == 48
    assert [e.detail["n"] for e in store.events(contact.id, "step.done", newest_first=True, limit=2)] == [48, 24]


def test_given_an_entry_recorded_once_by_its_event_key_then_the_same_rule_applies(store):
    contact, _ = store.upsert_by_email("jane@example.com", {})
    store.record_once(contact.id, "k1", "map.exited", {}, at=DAY)
    store.record_once(contact.id, "k2", "email.opened", {}, at=DAY)

    assert in_index(contact.id) == ["contact.created", "email.opened"]
    assert len(store.events(contact.id, "map.exited")) == 1
