"""The fill of a newly pushed segment (issue 10, "Segments": membership stored so listing costs
reads proportional to its size): contacts that already match when a segment is pushed (or its
condition changed) join it through a paged fill on the EnrollQueue, once per definition, without
starting its segment_entered maps; later changes keep it current as before."""

from __future__ import annotations

import pytest

from automaps.journeys import segments as upkeep
from automaps.store.contacts import ContactStore, HistoryEntry
from automaps.store.segments import SegmentStore
from tests.segments.helpers import VIP, kinds, pushed, tagged


def test_given_contacts_tagged_before_the_segment_exists_when_it_is_pushed_then_the_fill_makes_them_members(
        aws, clock, tmp_path, monkeypatch):
    # GIVEN 7 contacts, 4 of them tagged vip, and no segment yet (pages of 3 items: several pages)
    monkeypatch.setattr(upkeep, "FILL_PAGE", 3)
    store = ContactStore()
    vips = {store.upsert_by_email(f"v{i}@example.com", {}, ["vip"])[0].id for i in range(4)}
    others = {store.upsert_by_email(f"o{i}@example.com", {})[0].id for i in range(3)}

    # WHEN the segment "vip" is pushed and its fill starts (twice: push and the hourly sweep)
    pushed(tmp_path, VIP)
    first, again = upkeep.start_fills(), upkeep.start_fills()

    # THEN one fill ran through every page: exactly the vips are members, counted, each entry
    # marked as the fill's (which starts no segment_entered map)
    assert first == ["vip"] and again == []
    segments = SegmentStore()
    assert {m["contact_id"] for m in segments.members("vip")} == vips and segments.count("vip") == 4
    for contact_id in vips:
        [entered] = [h for h in store.history(contact_id) if h.kind == "segment.entered"]
        assert entered.detail == {"segment": "vip", "fill": True}
    assert all(kinds(contact_id) == [] for contact_id in others)
    state = segments.fill_state("vip", upkeep.version_of(upkeep.cached_segments()[0]))
    assert state is not None and state["done"] is True and state["evaluated"] == 7

    # WHEN one of them later loses the tag
    leaving = sorted(vips)[0]
    tagged(leaving, remove=("vip",))

    # THEN upkeep keeps the segment current as always (an exit not marked as the fill's)
    assert segments.count("vip") == 3
    assert [h.detail for h in store.history(leaving) if h.kind == "segment.exited"] == [{"segment": "vip"}]


def test_given_a_filled_segment_when_its_condition_changes_then_a_new_fill_moves_contacts_in_and_out(
        aws, clock, tmp_path):
    # GIVEN the segment "vip" filled, and a contact tagged gold only
    store = ContactStore()
    vip = store.upsert_by_email("vip@example.com", {}, ["vip"])[0].id
    gold = store.upsert_by_email("gold@example.com", {}, ["gold"])[0].id
    pushed(tmp_path, VIP)
    upkeep.start_fills()
    assert SegmentStore().segments_of(vip) == {"vip"}

    # WHEN its condition becomes "tagged gold" and it is pushed again
    pushed(tmp_path, {"id": "vip", "condition": {"has_tag": "gold"}})
    assert upkeep.start_fills() == ["vip"]

    # THEN the new definition's fill moved the vip out and the gold contact in
    assert SegmentStore().segments_of(vip) == set() and SegmentStore().segments_of(gold) == {"vip"}


@pytest.mark.parametrize("kind", ["segment.entered", "segment.exited"])
def test_given_a_fill_transition_then_segment_triggers_do_not_match_it(kind):
    from automaps.journeys.triggers import matches
    from automaps.maps.triggers import TRIGGER_MODELS

    trigger_kind = kind.replace(".", "_")
    trigger = TRIGGER_MODELS[trigger_kind].model_validate({trigger_kind: "vip"})
    own = HistoryEntry.model_validate({"at": "2026-11-02T08:00:00Z", "kind": kind, "detail": {"segment": "vip"}})
    filled = own.model_copy(update={"detail": {"segment": "vip", "fill": True}})

    assert matches(trigger, own, "m", lambda: None) and not matches(trigger, filled, "m", lambda: None)


def test_given_a_fill_page_delivered_twice_then_it_transitions_and_counts_once_and_queues_one_next_page(
        aws, clock, tmp_path, monkeypatch):
    # GIVEN 4 vips and the segment pushed, its fill claimed but its first page not yet run
    store = ContactStore()
    vips = {store.upsert_by_email(f"w{i}@example.com", {}, ["vip"])[0].id for i in range(4)}
    pushed(tmp_path, VIP)
    [segment] = upkeep.cached_segments()
    version = upkeep.version_of(segment)
    assert SegmentStore().claim_fill("vip", version)
    sent: list[str] = []
    monkeypatch.setattr(upkeep, "FILL_PAGE", 2)

    def capture(**params):  # the next pages' messages, kept instead of delivered
        sent.append(params["MessageBody"])
        return {"MessageId": str(len(sent))}

    from automaps import aws as aws_clients
    monkeypatch.setattr(aws_clients.client("sqs"), "send_message", capture)

    # WHEN the first page is delivered twice (SQS delivers at least once)
    request = upkeep.FillRequest(segment="vip", version=version)
    first, again = upkeep.fill(request), upkeep.fill(request)

    # THEN its contacts transitioned once, the page counted once, and its next page queued once,
    # from the counted delivery's cursor (a redelivery's Scan may end elsewhere: no second chain)
    assert first["transitions"] == first["contacts"] and again["transitions"] == 0
    state = SegmentStore().fill_state("vip", version)
    assert state is not None and state["page"] == 1 and state["evaluated"] == first["contacts"]
    [following] = [upkeep.FillRequest.model_validate_json(body) for body in sent]
    assert following.page == 1 and following.cursor is not None
    members = {m["contact_id"] for m in SegmentStore().members("vip")}
    assert members <= vips and all(len([h for h in store.history(c) if h.kind == "segment.entered"]) == 1
                                   for c in members)
