"""Broadcasts on the local runtime (issue 10, "Schedules"): a map a schedule starts enrolls the
members of its segment or list once per occurrence, page by page (automaps.journeys.broadcasts),
with its progress counted once (automaps.store.broadcasts), on the virtual clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from automaps.journeys import broadcasts
from automaps.store.broadcasts import BroadcastStore
from automaps.store.contacts import ContactStore
from tests.e2e.conftest import START
from tests.schedules.helpers import deploy, schedules, starts, vip_members

pytestmark = pytest.mark.slow


def test_given_a_weekly_broadcast_to_a_segment_when_two_weeks_pass_then_each_member_is_enrolled_once_a_week(
        runtime, tmp_path, monkeypatch):
    # GIVEN 5 contacts in the segment "vip" (and one outside it), pages of 2 members
    monkeypatch.setattr(broadcasts, "PAGE_SIZE", 2)
    members = vip_members(runtime, tmp_path, 5)
    # AND the map weekly-news: Mondays at 09:00 New York time, to "vip" (pushed on a Monday at 09:00)
    deploy(runtime, "weekly-news")
    [schedule] = schedules()
    assert (schedule["ScheduleExpression"], schedule["ScheduleExpressionTimezone"]) == (
        "cron(0 9 ? * MON *)", "America/New_York")

    # WHEN two weeks and a day pass
    assert runtime.run_until_settled(until=START + timedelta(days=15), timeout=120)

    # THEN each member was enrolled twice, by the occurrences of 30 November and 7 December, 09:00 EST
    week = ["2026-11-30T14:00:00Z", "2026-12-07T14:00:00Z"]
    assert {m: starts(m, "weekly-news") for m in members} == {m: week for m in members}
    # AND the one outside the segment never
    assert ContactStore().enrollments(ContactStore().find_by_email("other0@example.com").id) == []
    # AND each run's progress: 5 found and queued over 3 pages, 5 started
    runs = BroadcastStore().runs("weekly-news")
    assert [(r.at, r.pages, r.found, r.queued, r.started, r.skipped, r.failed, r.done) for r in runs] == [
        (week[1], 3, 5, 5, 5, 0, 0, True), (week[0], 3, 5, 5, 5, 0, 0, True)]
    # AND each enrollment's event says what started it
    event = ContactStore().enrollments(members[0], "weekly-news")[0].event
    assert (event["type"], event["kind"], event["trigger"]) == ("schedule", "schedule.fired", "vip")
