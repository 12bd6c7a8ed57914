"""The ByKind index holds the history kinds read by kind over a window (conditions, frequency caps,
goals and any event from outside), not the journey's own bookkeeping (issue 11, "Cost per
journey"): each entry copied into it costs a write unit. Every kind stays readable by kind."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path

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


READERS = {"_events_leaf", "last", "events"}  # how automaps.conditions.evaluate reads the history by kind


def kinds_conditions_read() -> set[str]:
    """The literal kind of every history read in automaps.conditions.evaluate's source."""
    import automaps.conditions.evaluate as evaluate

    found = set()
    for node in ast.walk(ast.parse(Path(evaluate.__file__).read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and node.args:
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            first = node.args[0]
            if name in READERS and isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.add(first.value)
    return found


def test_every_kind_a_condition_or_a_cap_reads_is_in_the_index():
    read = kinds_conditions_read()
    from automaps.channels.limits import SENT_KIND

    assert {"email.opened", "email.clicked", "page.visited", "purchase.made", "form.submitted",
            "course.completed", "account.active"} <= read  # the derivation finds them
    for kind in read | set(SENT_KIND.values()):
        assert kinds.indexed(kind), f"{kind} is read by kind but not indexed: add it to kinds.BOOKKEEPING_READ"


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
