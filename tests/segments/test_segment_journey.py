"""Segments on the local runtime (issue 10, "Segments"): entries written through the stores reach
RouteEventsFunction through the contacts table's stream, the router keeps the segment's
membership, and the segment.entered / segment.exited entries it writes start the maps whose
segment_entered / segment_exited triggers name it; `automaps segment count|sample` read it."""

from __future__ import annotations

import pytest
import yaml

from automaps.store.contacts import ContactStore
from automaps.store.segments import SegmentStore
from automaps_local.cli import main
from tests.segments.helpers import VIP, kinds, pushed, tagged

pytestmark = pytest.mark.slow


def a_map(runtime, tmp_path, map_id: str, trigger: dict) -> None:
    """GIVEN a deployed map started by ``trigger`` that waits a minute and ends."""
    path = tmp_path / f"{map_id}.yaml"
    path.write_text(yaml.safe_dump({"id": map_id, "name": map_id, "triggers": [trigger],
                                    "steps": [{"wait": {"minutes": 1}}, "end"]}))
    runtime.stack.deploy_map(path)


def test_given_maps_on_segment_entered_and_exited_when_contacts_enter_and_leave_then_each_map_runs_once(
        runtime, tmp_path):
    # GIVEN the segment "vip", a map started when a contact enters it and one when a contact leaves it
    pushed(tmp_path, VIP)
    a_map(runtime, tmp_path, "welcome-vip", {"segment_entered": {"segment": "vip"}})
    a_map(runtime, tmp_path, "miss-you", {"segment_exited": "vip"})
    store = ContactStore()

    # WHEN Jane is created tagged vip, and Joe is created without it
    jane, _ = store.upsert_by_email("jane@example.com", {"first_name": "Jane"}, ["vip"])
    joe, _ = store.upsert_by_email("joe@example.com", {"first_name": "Joe"})
    assert runtime.run_until_settled(timeout=120)

    # THEN Jane entered the segment and ran welcome-vip once, caused by her segment.entered entry, to its end
    assert kinds(jane.id) == [("segment.entered", "vip")]
    [welcome] = store.enrollments(jane.id, "welcome-vip")
    assert (welcome.status, welcome.exit_reason) == ("exited", "end")
    assert (welcome.event["type"], welcome.event["kind"], welcome.event["segment"]) == (
        "segment_entered", "segment.entered", "vip")
    # AND Joe is in no segment and ran nothing
    assert kinds(joe.id) == [] and store.enrollments(joe.id) == []

    # WHEN Jane's tag vip is removed by a step's change
    tagged(jane.id, remove=("vip",))
    assert runtime.run_until_settled(timeout=120)

    # THEN she left the segment and ran miss-you once; welcome-vip did not run again
    assert kinds(jane.id) == [("segment.entered", "vip"), ("segment.exited", "vip")]
    [missed] = store.enrollments(jane.id, "miss-you")
    assert (missed.status, missed.event["type"]) == ("exited", "segment_exited")
    assert len(store.enrollments(jane.id, "welcome-vip")) == 1
    assert {e["status"] for m in ("welcome-vip", "miss-you") for e in runtime.executions(m)} == {"SUCCEEDED"}
    assert SegmentStore().count("vip") == 0


def test_given_a_segment_on_the_local_stack_when_automaps_segment_count_and_sample_run_then_they_answer(
        runtime, tmp_path, capsys):
    # GIVEN the segment "vip" pushed, and 12 contacts of whom 5 are tagged vip
    pushed(tmp_path, VIP)
    store = ContactStore()
    for i in range(12):
        store.upsert_by_email(f"m{i}@example.com", {}, ["vip"] if i < 5 else [])
    assert runtime.run_until_settled(timeout=120)
    members = sorted(m["contact_id"] for m in SegmentStore().members("vip"))
    assert len(members) == 5

    # WHEN `automaps segment count vip` runs against the local runtime's tables
    code = main(["segment", "count", "vip"])
    out = capsys.readouterr().out

    # THEN it answers 5
    assert (code, out) == (0, "vip: 5 members\n")

    # WHEN `automaps segment sample vip --limit 3` runs
    code = main(["segment", "sample", "vip", "--limit", "3"])
    lines = capsys.readouterr().out.splitlines()

    # THEN it lists the first 3 members, masked, and says how many there are
    assert code == 0
    assert [line.split()[0] for line in lines[:3]] == members[:3]
    assert [line.split()[2] for line in lines[:3]] == ["m***@example.com"] * 3, lines
    assert lines[3] == "3 of 5 members of vip"

    # WHEN the segment is not pushed, THEN it says so and exits 2
    assert main(["segment", "count", "nobody"]) == 2
    assert "no segment 'nobody' is pushed" in capsys.readouterr().out
