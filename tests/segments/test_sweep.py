"""The segment sweep (issue 10, "Segments": conditions that depend on the clock are re-evaluated
by a scheduled sweep): upkeep leaves a due item for the moment time alone would change a
contact's verdict, and the hourly sweep re-evaluates only the contacts due, recording each
transition once, without reading the table."""

from __future__ import annotations

from collections import Counter
from typing import Any

from automaps import aws as aws_clients
from automaps.journeys import segments as upkeep
from automaps.store.contacts import ContactStore
from automaps.store.segments import SegmentStore
from tests.segments.helpers import kinds, pushed, tagged

READERS = {"id": "readers", "condition": {"opened_email": {"template": "newsletter", "within": {"days": 30}}}}
LAPSED = {
    "id": "lapsed",
    "condition": {
        "all": [
            {"has_tag": "subscriber"},
            {"not": {"opened_email": {"template": "newsletter", "within": {"days": 30}}}},
        ]
    },
}


def opened(contact_id: str) -> None:
    """WHEN the contact opens the newsletter (the email.opened entry reaches the router by the stream)."""
    ContactStore().record(contact_id, "email.opened", {"template": "newsletter"})


def calls() -> Counter[str]:
    """The DynamoDB operations made from now on, by name."""
    made: Counter[str] = Counter()

    def count(event_name: str, **_: Any) -> None:
        made[event_name.rsplit(".", 1)[-1]] += 1

    aws_clients.client("dynamodb").meta.events.register("before-call.dynamodb.*", count)
    return made


def test_given_a_reader_when_30_days_pass_without_an_open_then_the_sweep_moves_them_from_readers_to_lapsed(
        aws, clock, tmp_path):
    # GIVEN the segments "readers" (opened the newsletter in the last 30 days) and "lapsed"
    # (subscribers who did not), and a subscriber who opens it today
    pushed(tmp_path, READERS, LAPSED)
    contact, _ = ContactStore().upsert_by_email("jane@example.com", {})
    tagged(contact.id, add=("subscriber",))
    assert SegmentStore().segments_of(contact.id) == {"lapsed"}
    opened(contact.id)
    assert SegmentStore().segments_of(contact.id) == {"readers"}

    # WHEN 29 days pass and the sweep runs
    clock.advance(days=29)
    assert upkeep.sweep()["due"] == 0

    # THEN nothing is due yet: still a reader
    assert SegmentStore().segments_of(contact.id) == {"readers"}

    # WHEN day 31 comes and the sweep runs (twice: a schedule delivers at least once)
    clock.advance(days=2)
    made = calls()
    first = upkeep.sweep()
    again = upkeep.sweep()

    # THEN the contact left readers and entered lapsed, each recorded once, and the sweep read
    # only the due items and the contact (no Scan)
    assert first["due"] == 2 and first["exited"] == 1 and first["entered"] == 1
    assert again["due"] == 0
    segments = SegmentStore()
    assert segments.segments_of(contact.id) == {"lapsed"}
    assert segments.count("readers") == 0 and segments.count("lapsed") == 1
    history = kinds(contact.id)  # (the two transitions of one cause share one instant: any order)
    assert history[0] == ("segment.entered", "lapsed")
    assert sorted(history[1:3]) == [("segment.entered", "readers"), ("segment.exited", "lapsed")]
    assert sorted(history[3:]) == [("segment.entered", "lapsed"), ("segment.exited", "readers")]
    assert made["Scan"] == 0


def test_given_a_reader_who_opens_again_then_the_earlier_due_moment_changes_nothing_and_the_later_one_does(
        aws, clock, tmp_path):
    # GIVEN a reader who opened the newsletter on day 0 and again on day 10
    pushed(tmp_path, READERS)
    contact, _ = ContactStore().upsert_by_email("joe@example.com", {})
    opened(contact.id)
    clock.advance(days=10)
    opened(contact.id)

    # WHEN day 31 comes (30 days after the first open) and the sweep runs
    clock.advance(days=21)
    first = upkeep.sweep()

    # THEN the contact is still a reader (the second open is 21 days old)
    assert first["due"] >= 1 and first["exited"] == 0
    assert SegmentStore().segments_of(contact.id) == {"readers"}

    # WHEN day 41 comes (30 days after the second open)
    clock.advance(days=10)
    second = upkeep.sweep()

    # THEN the contact left the segment, once
    assert second["exited"] == 1
    assert SegmentStore().segments_of(contact.id) == set()
    assert kinds(contact.id) == [("segment.entered", "readers"), ("segment.exited", "readers")]


def test_given_contacts_whose_verdict_time_cannot_change_then_upkeep_leaves_the_sweep_nothing(aws, clock, tmp_path):
    # GIVEN a segment on tags alone and one on recent opens, and a contact who never opened
    pushed(tmp_path, READERS, {"id": "vip", "condition": {"has_tag": "vip"}})
    contact, _ = ContactStore().upsert_by_email("ann@example.com", {})

    # WHEN the contact is tagged vip and a year passes
    tagged(contact.id, add=("vip",))
    clock.advance(days=365)

    # THEN the sweep has nothing due (the tag segment does not read the clock; never having
    # opened cannot turn into having opened by time alone)
    assert upkeep.sweep() == {"due": 0, "entered": 0, "exited": 0, "stale": 0}
    assert SegmentStore().segments_of(contact.id) == {"vip"}


def test_given_a_due_item_of_a_segment_since_removed_then_the_sweep_drops_it(aws, clock, tmp_path):
    # GIVEN a reader with a due item, and then the segment no longer reads the clock (while
    # another segment still does, so the sweep reads its due items)
    pushed(tmp_path, READERS, LAPSED)
    contact, _ = ContactStore().upsert_by_email("max@example.com", {})
    opened(contact.id)
    pushed(tmp_path, {"id": "readers", "condition": {"has_tag": "reader"}}, LAPSED)

    # WHEN the due moment passes and the sweep runs twice
    clock.advance(days=31)
    first, again = upkeep.sweep(), upkeep.sweep()

    # THEN the item was dropped as stale, once; the new definition's fill (which the sweep
    # starts) took the contact out, since they are not tagged reader
    assert first["stale"] == 1 and again["stale"] == 0
    assert SegmentStore().segments_of(contact.id) == set()
