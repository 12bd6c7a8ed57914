"""Segment membership kept current from the event route (issue 10, "Segments"): on moto, entries
written by the stores reach the router through the contacts table's stream, which re-evaluates
the segments the entry's kind can affect and records each transition once."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from automaps.journeys import router
from automaps.journeys import segments as upkeep
from automaps.store.contacts import ContactStore, HistoryEntry
from automaps.store.segments import COUNTER_SHARDS, SegmentStore, validate
from automaps_local.push import ContentError, load_segments
from tests.segments.helpers import VIP, kinds, pushed, tagged


def test_given_a_segment_when_a_contact_is_tagged_into_it_and_the_entry_is_delivered_twice_then_it_enters_once(
        aws, clock, tmp_path):
    # GIVEN the segment "vip" (tagged vip, not churned) and a contact outside it
    pushed(tmp_path, VIP)
    store = ContactStore()
    contact, _ = store.upsert_by_email("jane@example.com", {"first_name": "Jane"})
    assert SegmentStore().count("vip") == 0

    # WHEN the contact is tagged vip (the tags.changed entry reaches the router through the stream)
    tagged(contact.id, add=("vip",))

    # THEN the contact is in the segment, counted once, with one segment.entered entry
    segments = SegmentStore()
    assert segments.segments_of(contact.id) == {"vip"}
    assert [m["contact_id"] for m in segments.members("vip")] == [contact.id]
    assert segments.count("vip") == 1
    assert kinds(contact.id) == [("segment.entered", "vip")]

    # WHEN the stream delivers the tags.changed entry once more
    [change] = [h for h in store._query(contact.id, "H#") if h["kind"] == "tags.changed"]
    router.route_entry(contact.id, change["sk"], HistoryEntry.model_validate(change))

    # THEN nothing changes: one member, one count, one entry
    assert segments.count("vip") == 1
    assert kinds(contact.id) == [("segment.entered", "vip")]


def test_given_a_member_when_the_tag_is_removed_or_an_excluding_tag_added_then_it_exits_once(aws, clock, tmp_path):
    # GIVEN two members of "vip"
    pushed(tmp_path, VIP)
    store = ContactStore()
    jane, _ = store.upsert_by_email("jane@example.com", {}, ["vip"])
    joe, _ = store.upsert_by_email("joe@example.com", {}, ["vip"])
    assert SegmentStore().count("vip") == 2

    # WHEN Jane loses the tag vip and Joe is tagged churned
    tagged(jane.id, remove=("vip",))
    tagged(joe.id, add=("churned",))

    # THEN both left it: no members, a count of 0, one entered and one exited entry each
    segments = SegmentStore()
    assert list(segments.members("vip")) == [] and segments.count("vip") == 0
    for contact in (jane, joe):
        assert segments.segments_of(contact.id) == set()
        assert kinds(contact.id) == [("segment.entered", "vip"), ("segment.exited", "vip")]


def test_given_many_contacts_when_some_match_then_members_lists_exactly_them_and_count_agrees(aws, clock, tmp_path):
    # GIVEN the segment "vip" and a segment on a field, "gold" (plan = gold)
    pushed(tmp_path, VIP, {"id": "gold", "condition": {"field": {"name": "plan", "eq": "gold"}}})
    store = ContactStore()

    # WHEN 30 contacts are created, every third tagged vip and every fifth on the gold plan
    ids = []
    for i in range(30):
        contact, _ = store.upsert_by_email(f"c{i}@example.com", {"plan": "gold" if i % 5 == 0 else "free"})
        ids.append(contact.id)
        if i % 3 == 0:
            tagged(contact.id, add=("vip",))

    # THEN each segment lists exactly its members (in contact id order) and counts them
    segments = SegmentStore()
    vip = sorted(ids[i] for i in range(30) if i % 3 == 0)
    gold = sorted(ids[i] for i in range(30) if i % 5 == 0)
    assert [m["contact_id"] for m in segments.members("vip")] == vip and segments.count("vip") == 10
    assert [m["contact_id"] for m in segments.members("gold")] == gold and segments.count("gold") == 6
    # AND a sample of 4 reads only 4 members
    assert [m["contact_id"] for m in segments.members("vip", limit=4)] == vip[:4]
    # AND the count spreads over the counter shards (no single item takes every transition)
    assert COUNTER_SHARDS > 1


def test_given_segments_when_an_entry_of_a_kind_no_segment_reads_is_routed_then_nothing_is_read(
        aws, clock, tmp_path):
    # GIVEN the segment "vip" (reads tags) and a contact
    pushed(tmp_path, VIP)
    contact, _ = ContactStore().upsert_by_email("jane@example.com", {}, ["vip"])
    reads: list[str] = []
    aws_client = __import__("automaps.aws", fromlist=["client"]).client("dynamodb")
    aws_client.meta.events.register("before-call.dynamodb.*", lambda model, **_: reads.append(model.name))

    # WHEN a page visit and a journey's own step.done are routed
    upkeep.route(contact.id, "H#x", HistoryEntry(at=clock.now(), kind="page.visited", detail={"url": "https://x"}))
    upkeep.route(contact.id, "H#y", HistoryEntry(at=clock.now(), kind="step.done"))

    # THEN no request was made for segments
    assert reads == []


def test_given_a_segment_when_an_entry_it_reads_moves_a_contact_in_then_it_costs_three_requests(aws, clock, tmp_path):
    # GIVEN the segment "vip" and a contact whose tag vip was added with no entry routed yet
    pushed(tmp_path, VIP)
    upkeep.cached_segments()
    store = ContactStore()
    contact, _ = store.upsert_by_email("joe@example.com", {})
    store.change_tags(contact.id, add=["vip"])  # no effect: no entry written, nothing routed
    calls: list[str] = []
    client = __import__("automaps.aws", fromlist=["client"]).client("dynamodb")
    client.meta.events.register("before-call.dynamodb.*", lambda model, **_: calls.append(model.name))

    # WHEN the tags.changed entry is routed
    made = upkeep.route(contact.id, "H#2026-11-02T08:00:00.000000Z#0001",
                        HistoryEntry(at=clock.now(), kind="tags.changed", detail={"added": ["vip"], "removed": []}))

    # THEN the contact entered, for one profile read, one membership Query and one transaction
    assert made == [("vip", "entered")]
    assert calls == ["GetItem", "Query", "TransactWriteItems"]


@pytest.mark.parametrize(("body", "problem"), [
    ({"id": "broken", "condition": {"has_tga": "vip"}}, "condition: a condition is a mapping with one key"),
    ({"id": "broken"}, "condition: Field required"),
    ({"id": "broken", "condition": {"field": {"name": "age", "gt": 1, "lt": 9}}}, "needs exactly one operator"),
    ({"id": "Broken!", "condition": {"has_tag": "vip"}}, "id: String should match pattern"),
    ({"id": "broken", "condition": {"has_tag": "vip"}, "colour": "red"}, "colour: Extra inputs are not permitted"),
])
def test_given_a_broken_segment_file_when_pushed_then_it_is_refused_naming_the_file_and_the_field(
        tmp_path, body, problem):
    # GIVEN content/segments/broken.yaml with a mistake
    folder = tmp_path / "content" / "segments"
    folder.mkdir(parents=True)
    (folder / "broken.yaml").write_text(__import__("yaml").safe_dump(body))

    # WHEN it is loaded for push, THEN it is refused naming the file and the problem
    with pytest.raises(ContentError) as refused:
        load_segments(tmp_path)
    assert str(refused.value).startswith(f"{folder / 'broken.yaml'}: ") and problem in str(refused.value), refused.value


def test_given_a_segment_whose_id_is_not_its_file_name_when_pushed_then_it_is_refused(tmp_path):
    folder = tmp_path / "content" / "segments"
    folder.mkdir(parents=True)
    (folder / "vip.yaml").write_text("id: gold\ncondition: {has_tag: vip}\n")

    with pytest.raises(ContentError, match="id 'gold' differs from the file name"):
        load_segments(tmp_path)


def test_given_the_repository_segments_when_validated_then_they_load():
    from tests.conftest import ROOT

    found = load_segments(ROOT)
    assert set(found) >= {"vip-customers", "newsletter-readers"}
    assert upkeep.depends_on_clock(validate(found["newsletter-readers"]).condition)
    assert not upkeep.depends_on_clock(validate(found["vip-customers"]).condition)
    with pytest.raises(ValidationError):
        validate({"id": "x", "condition": {"all": "nope"}})
