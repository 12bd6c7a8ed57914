"""A map's schedules follow its triggers (automaps.journeys.schedules.sync, called by register:
`automaps push` and the local stack's deploy_map): one per moment trigger, named from the map and
the trigger, and a changed or removed trigger's schedule is deleted."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import yaml

from automaps.journeys import schedules as starts_schedules
from automaps.journeys.enrollment import map_record
from automaps.store.broadcasts import BroadcastStore
from tests.e2e.conftest import START
from tests.schedules.helpers import FIXTURES, deploy, deploy_again, schedules, starts, vip_members

pytestmark = pytest.mark.slow


def weekly(**changes: object) -> dict:
    body = yaml.safe_load((FIXTURES / "weekly-news.yaml").read_text())
    body.update(changes)
    return body


def test_given_a_weekly_broadcast_when_its_cron_changes_and_then_it_is_removed_then_the_old_schedules_go(
        runtime, tmp_path):
    # GIVEN the weekly broadcast weekly-news deployed: one schedule, targeting the EnrollQueue
    members = vip_members(runtime, tmp_path, 2, others=0)
    deploy(runtime, "weekly-news")
    [before] = schedules()
    assert before["Name"].startswith("weekly-news-") and len(before["Name"]) <= 64
    [(old_trigger, _)] = starts_schedules.moment_triggers(map_record("weekly-news"))

    # WHEN it is pushed again unchanged: the same schedule, not even updated
    deploy_again(runtime, "weekly-news")
    assert schedules() == [before]
    assert starts_schedules.sync(map_record("weekly-news")) == {"created": 0, "updated": 0, "deleted": 0, "kept": 1}

    # WHEN it is pushed with Tuesdays instead of Mondays
    tuesdays = [{"schedule": {"cron": "0 9 ? * TUE *", "timezone": "America/New_York", "segment": "vip"}}]
    deploy_again(runtime, "weekly-news", weekly(triggers=tuesdays))

    # THEN the Monday schedule is gone and a Tuesday one is there
    [after] = schedules()
    assert after["Name"] != before["Name"] and after["ScheduleExpression"] == "cron(0 9 ? * TUE *)"

    # AND a Monday occurrence still in the queue (sent just before the change) starts nobody
    record = map_record("weekly-news")
    assert starts_schedules.find_trigger(record, old_trigger) is None

    # WHEN a week passes: only Tuesday's occurrence enrolls
    assert runtime.run_until_settled(until=START + timedelta(days=7, hours=12), timeout=120)
    assert {m: starts(m, "weekly-news") for m in members} == {m: ["2026-11-24T14:00:00Z"] for m in members}
    assert [r.at for r in BroadcastStore().runs("weekly-news")] == ["2026-11-24T14:00:00Z"]

    # WHEN it is pushed started by a tag instead
    deploy_again(runtime, "weekly-news", weekly(triggers=[{"tag_added": "vip"}]))

    # THEN it has no schedule left
    assert schedules() == []


def test_given_a_map_with_a_schedule_then_its_schedule_sends_an_occurrence_to_the_enroll_queue(runtime):
    # GIVEN the one-time broadcast launch-day deployed
    deploy(runtime, "launch-day")

    # THEN its schedule targets the EnrollQueue with the scheduler role, its input an occurrence
    # whose time is Scheduler's placeholder, flexible window off, deleted once it fired
    from automaps import aws

    group = next(g["Name"] for g in aws.client("scheduler").list_schedule_groups()["ScheduleGroups"]
                 if g["Name"].endswith("-starts"))
    [summary] = aws.client("scheduler").list_schedules(GroupName=group)["Schedules"]
    schedule = aws.client("scheduler").get_schedule(GroupName=group, Name=summary["Name"])
    assert schedule["Target"]["Arn"].endswith("-EnrollQueue")
    assert schedule["Target"]["RoleArn"].endswith("WaitsSchedulerRole") or "WaitsSchedulerRole" in schedule[
        "Target"]["RoleArn"]
    assert json.loads(schedule["Target"]["Input"]) == {
        "kind": "occurrence", "map_id": "launch-day", "trigger": summary["Name"].rsplit(".", 1)[1],
        "at": "<aws.scheduler.scheduled-time>", "cursor": None, "page": 0}
    assert (schedule["FlexibleTimeWindow"], schedule["ActionAfterCompletion"]) == ({"Mode": "OFF"}, "DELETE")
