"""The segment sweep on the local runtime (issue 10, "Segments"): the template's hourly
``ScheduleV2`` event fires SegmentSweepFunction on the virtual clock; a reader whose last open
ages out of "opened in the last 2 days" leaves the segment within the hour, and the map started
by segment_exited runs once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import yaml

from automaps.store.contacts import ContactStore
from automaps.store.segments import SegmentStore
from automaps_local.clock import VirtualClock
from automaps_local.runtime import LocalRuntime
from tests.e2e.conftest import ROOT, START
from tests.segments.helpers import kinds, pushed

pytestmark = pytest.mark.slow
RECENT = {"id": "recent-readers", "condition": {"opened_email": {"template": "newsletter", "within": {"days": 2}}}}


@pytest.fixture
def runtime() -> Iterator[LocalRuntime]:
    """GIVEN the backend from template.yaml, its hourly schedules included, on a virtual clock."""
    with LocalRuntime(ROOT / "template.yaml", clock=VirtualClock(START, auto_advance=False),
                      environment={"POWERTOOLS_METRICS_DISABLED": "true"}) as running:
        yield running


def test_given_a_recent_reader_when_two_days_pass_then_the_hourly_sweep_takes_them_out_and_starts_the_win_back(
        runtime, tmp_path):
    # GIVEN the segment of recent readers and a map started when a contact leaves it
    pushed(tmp_path, RECENT)
    path = tmp_path / "win-back.yaml"
    path.write_text(yaml.safe_dump({"id": "win-back", "name": "Win back", "triggers": [
        {"segment_exited": "recent-readers"}], "steps": [{"add_note": {"text": "We miss you"}}]}))
    runtime.stack.deploy_map(path)
    contact, _ = ContactStore().upsert_by_email("reader@example.com", {})

    # WHEN the contact opens the newsletter, and 2 days and 2 hours pass
    ContactStore().record(contact.id, "email.opened", {"template": "newsletter"})
    assert runtime.run_until_settled(timeout=60)
    assert SegmentStore().segments_of(contact.id) == {"recent-readers"}
    runtime.run_until_settled(until=START + timedelta(days=2, hours=2), timeout=300)

    # THEN the sweep, fired every hour from the template's schedule, took them out in the hour
    # after the open aged out, once, and the win-back map ran once
    assert SegmentStore().segments_of(contact.id) == set()
    assert kinds(contact.id) == [("segment.entered", "recent-readers"), ("segment.exited", "recent-readers")]
    [exited] = [e for e in ContactStore().history(contact.id) if e.kind == "segment.exited"]
    assert START + timedelta(days=2) < exited.at <= START + timedelta(days=2, hours=1)
    assert [n["text"] for n in ContactStore().notes(contact.id)] == ["We miss you"]
    sweeps = [d for d in runtime.schedules.deliveries if "SegmentSweepFunction" in d[1]]
    assert 49 <= len(sweeps) <= 51
