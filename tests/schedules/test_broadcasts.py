"""Broadcasts on the local runtime (issue 10, "Schedules"): a map a schedule starts enrolls the
members of its segment or list once per occurrence, page by page (automaps.journeys.broadcasts),
with its progress counted once (automaps.store.broadcasts), on the virtual clock."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from automaps.clock import iso as clock_iso

from automaps.journeys import broadcasts
from automaps.store.broadcasts import BroadcastStore
from automaps.store.contacts import ContactStore
from automaps_local.cli import main
from tests.e2e.conftest import START
from tests.schedules.conftest import runtime_at
from tests.schedules.helpers import deploy, deploy_again, list_members, schedules, starts, vip_members

pytestmark = pytest.mark.slow


def test_given_a_weekly_broadcast_to_a_segment_when_two_weeks_pass_then_each_member_is_enrolled_once_a_week(
        runtime, tmp_path, monkeypatch, capsys):
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

    # WHEN `automaps broadcast status weekly-news` runs against the local runtime's tables
    capsys.readouterr()
    assert main(["broadcast", "status", "weekly-news"]) == 0

    # THEN it shows both runs, newest first
    assert capsys.readouterr().out.splitlines() == [
        f"{at}  schedule vip  found 5  queued 5  started 5  skipped 0  failed 0  pending 0  done" for at in week[::-1]]


def test_given_a_daily_9am_broadcast_in_new_york_when_daylight_saving_time_starts_then_it_stays_at_9_local():
    # GIVEN the map morning-brief (every day at 09:00, the map's timezone America/New_York), two
    # members of "vip", on Friday 12 March 2027; New York moves its clocks on Sunday 14 March
    start = datetime(2027, 3, 12, 12, 0, tzinfo=UTC)
    with runtime_at(start) as runtime:
        members = vip_members(runtime, Path(tempfile.mkdtemp()), 2, others=0)
        deploy(runtime, "morning-brief")

        # WHEN four days pass
        assert runtime.run_until_settled(until=start + timedelta(days=4), timeout=120)

        # THEN each was enrolled at 09:00 New York time each day: 14:00 UTC before the change, 13:00 after
        days = ["2027-03-12T14:00:00Z", "2027-03-13T14:00:00Z", "2027-03-14T13:00:00Z", "2027-03-15T13:00:00Z"]
        assert {m: starts(m, "morning-brief") for m in members} == {m: days for m in members}
        assert {datetime.fromisoformat(at).astimezone(ZoneInfo("America/New_York")).hour for at in days} == {9}


def test_given_a_daily_rate_broadcast_to_a_list_when_three_days_pass_then_each_member_is_enrolled_each_day(runtime):
    # GIVEN three contacts on the list "digest" and the map daily-digest (rate: 1 day), pushed at START
    members = list_members("digest", 3)
    deploy(runtime, "daily-digest")
    assert schedules()[0]["ScheduleExpression"] == "rate(1 day)"

    # WHEN three days and an hour pass
    assert runtime.run_until_settled(until=START + timedelta(days=3, hours=1), timeout=120)

    # THEN each member was enrolled once a day, a day after the push each time
    days = [clock_iso(START + timedelta(days=n)) for n in (1, 2, 3)]
    assert {m: starts(m, "daily-digest") for m in members} == {m: days for m in members}


def test_given_a_one_time_broadcast_when_its_moment_passes_then_it_fires_once_and_its_schedule_is_gone(runtime):
    # GIVEN two contacts on the list "launch" and the map launch-day: once, 1 December 2026 at 10:00 Paris
    members = list_members("launch", 2)
    deploy(runtime, "launch-day")
    [schedule] = schedules()
    assert (schedule["ScheduleExpression"], schedule["ScheduleExpressionTimezone"]) == (
        "at(2026-12-01T10:00:00)", "Europe/Paris")

    # WHEN the moment passes, and weeks more
    assert runtime.run_until_settled(until=START + timedelta(days=30), timeout=120)

    # THEN each member was enrolled once, at 09:00 UTC (10:00 in Paris), and the schedule is gone
    assert {m: starts(m, "launch-day") for m in members} == {m: ["2026-12-01T09:00:00Z"] for m in members}
    assert schedules() == []
    [run] = BroadcastStore().runs("launch-day")
    assert (run.found, run.queued, run.started, run.done) == (2, 2, 2, True)

    # AND pushing the map again does not make it again (its moment is past)
    deploy_again(runtime, "launch-day")
    assert schedules() == []
