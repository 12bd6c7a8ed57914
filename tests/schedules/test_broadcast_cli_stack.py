"""Against a deployed stack (moto's CloudFormation): `automaps push --stack-name` finds where the
schedules go in the stack's outputs, and `automaps broadcast status --stack-name` reads the
stack's tables, as `automaps segment` does."""

from __future__ import annotations

import json

import pytest

from automaps_local.cli import main
from tests.conftest import table_resource

OUTPUTS = {
    "StartsScheduleGroupName": {"Value": "shop-starts"},
    "SchedulerRoleArn": {"Value": "arn:aws:iam::123456789012:role/shop-WaitsSchedulerRole"},
    "EnrollQueueArn": {"Value": "arn:aws:sqs:us-east-1:123456789012:shop-EnrollQueue"},
}


@pytest.fixture
def shop(monkeypatch):
    """GIVEN a deployed stack "shop" (its tables, its starts schedule group and outputs) on moto."""
    import boto3
    from moto import mock_aws

    from automaps import aws as aws_clients

    for name in ("CONTACTS_TABLE", "CONTENT_TABLE", "STARTS_SCHEDULE_GROUP", "SCHEDULER_ROLE_ARN", "ENROLL_QUEUE_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    with mock_aws():
        aws_clients.reset()
        boto3.client("cloudformation", region_name="us-east-1").create_stack(
            StackName="shop", TemplateBody=json.dumps({
                "Resources": {"ContactsTable": table_resource("shop-contacts"), "ContentTable": table_resource("shop-content")},
                "Outputs": OUTPUTS}))
        boto3.client("scheduler", region_name="us-east-1").create_schedule_group(Name="shop-starts")
        yield boto3.client("cloudformation", region_name="us-east-1")
        aws_clients.reset()


def weekly_record():
    from automaps.maps.loader import load_map
    from automaps_local.push import map_record
    from tests.schedules.helpers import FIXTURES

    return map_record(load_map(FIXTURES / "weekly-news.yaml"), "arn:aws:states:us-east-1:123456789012:"
                      "stateMachine:shop-weekly-news", "v1")


def test_given_a_stack_when_a_map_with_a_schedule_is_pushed_with_its_name_then_its_schedule_is_in_the_stack(
        shop, monkeypatch):
    from automaps import aws
    from automaps.journeys.enrollment import register
    from automaps_local.push import use_starts_scheduler

    # WHEN push points at the stack "shop" and registers the map weekly-news
    monkeypatch.setenv("CONTENT_TABLE", "shop-content")
    use_starts_scheduler(shop, "shop")
    register(weekly_record())  # (the fixture's delenv restores the variables push set, after the test)

    # THEN its schedule is in the stack's group, sending to its EnrollQueue with its scheduler role
    [summary] = aws.client("scheduler").list_schedules(GroupName="shop-starts")["Schedules"]
    schedule = aws.client("scheduler").get_schedule(GroupName="shop-starts", Name=summary["Name"])
    assert (schedule["ScheduleExpression"], schedule["Target"]["Arn"], schedule["Target"]["RoleArn"]) == (
        "cron(0 9 ? * MON *)", OUTPUTS["EnrollQueueArn"]["Value"], OUTPUTS["SchedulerRoleArn"]["Value"])


def test_given_a_stack_with_a_broadcast_run_when_broadcast_status_runs_with_its_name_then_it_reads_its_tables(
        shop, capsys):
    from automaps.journeys.schedules import moment_triggers
    from automaps.store.broadcasts import BroadcastStore, RunKey
    from automaps.store.content import ContentStore

    # GIVEN the map weekly-news registered in the stack and a run of it: 2 pages, 3 members, 2 started, 1 failed
    record = weekly_record()
    ContentStore("shop-content").put("MAP", record.id, record.model_dump(mode="json"))
    [(trigger, _)] = moment_triggers(record)
    run = RunKey(map_id="weekly-news", trigger=trigger, at="2026-11-30T14:00:00Z")
    store = BroadcastStore("shop-contacts")
    assert store.page_done(run, 0, 2, last=False, audience="schedule vip")
    assert store.page_done(run, 1, 1, last=True, audience="schedule vip")
    assert not store.page_done(run, 1, 1, last=True, audience="schedule vip")  # a page counted twice: once
    for contact in ("c1", "c2"):
        store._db.transact_write_items(TransactItems=[store.counter_update(run, contact, "started")])
    assert store.failed_once(run, "c3", "e_3", "StartExecution failed")
    assert not store.failed_once(run, "c3", "e_3", "StartExecution failed")

    # WHEN `automaps broadcast status weekly-news --stack-name shop` runs
    code = main(["broadcast", "status", "weekly-news", "--stack-name", "shop", "--region", "us-east-1"])

    # THEN it reads the stack's tables
    assert (code, capsys.readouterr().out) == (0, "2026-11-30T14:00:00Z  schedule vip  found 3  queued 3  "
                                                  "started 2  skipped 0  failed 1  pending 0  done\n")
