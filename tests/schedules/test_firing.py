"""The local runtime's EventBridge Scheduler (automaps_local.moto_patches.ScheduleFiring): moto
stores schedules and never fires them; the runtime fires them on the virtual clock, each
occurrence once, at its moment in its timezone, with Scheduler's context placeholders filled in."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from automaps import aws
from automaps_local.moto_patches import next_occurrence, substitute
from tests.e2e.conftest import START

NEW_YORK = "America/New_York"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "zone", "after", "expected"),
    [
        # Mondays at 09:00 in New York: 14:00 UTC in winter; 13:00 UTC once daylight saving time began
        ("cron(0 9 ? * MON *)", NEW_YORK, "2027-03-02T00:00:00", "2027-03-08T14:00:00"),
        ("cron(0 9 ? * MON *)", NEW_YORK, "2027-03-08T14:00:00", "2027-03-15T13:00:00"),
        # 02:30 does not exist on 14 March 2027 in New York: it runs an hour later, at 03:30 EDT
        ("cron(30 2 * * ? *)", NEW_YORK, "2027-03-13T08:00:00", "2027-03-14T07:30:00"),
        # 01:30 happens twice on 7 November 2027: once, the first time (EDT)
        ("cron(30 1 * * ? *)", NEW_YORK, "2027-11-06T12:00:00", "2027-11-07T05:30:00"),
        ("cron(30 1 * * ? *)", NEW_YORK, "2027-11-07T05:30:00", "2027-11-08T06:30:00"),
        # every 15 minutes, the first day of the month, the last day of the month
        ("cron(0/15 * * * ? *)", "UTC", "2026-11-02T08:07:00", "2026-11-02T08:15:00"),
        ("cron(0 9 1 * ? *)", "Europe/Paris", "2026-11-02T00:00:00", "2026-12-01T08:00:00"),
        ("cron(0 18 L * ? *)", "UTC", "2026-02-01T00:00:00", "2026-02-28T18:00:00"),
        # once, read in its timezone; nothing after it
        ("at(2026-12-24T09:00:00)", "Europe/Paris", "2026-11-02T00:00:00", "2026-12-24T08:00:00"),
        ("at(2026-12-24T09:00:00)", "Europe/Paris", "2026-12-24T08:00:00", None),
    ],
)
def test_an_expressions_next_moment_is_read_on_the_wall_clock_of_its_timezone(expression, zone, after, expected):
    found = next_occurrence(expression, zone, utc(after), since=utc("2026-01-01T00:00:00"))
    assert found == (utc(expected) if expected else None)


def test_a_rate_counts_from_the_schedules_creation():
    since = utc("2026-11-02T08:07:00")
    assert next_occurrence("rate(1 day)", "UTC", since, since) == utc("2026-11-03T08:07:00")
    assert next_occurrence("rate(90 minutes)", "UTC", utc("2026-11-02T11:00:00"), since) == utc("2026-11-02T11:07:00")
    assert next_occurrence("rate(2 hours)", "UTC", utc("2026-11-02T10:07:00"), since) == utc("2026-11-02T12:07:00")


def test_scheduler_placeholders_are_filled_in():
    text = ('{"at": "<aws.scheduler.scheduled-time>", "arn": "<aws.scheduler.schedule-arn>", '
            '"id": "<aws.scheduler.execution-id>", "n": "<aws.scheduler.attempt-number>"}')
    arn = "arn:aws:scheduler:us-east-1:123456789012:schedule/g/s"
    filled = json.loads(substitute(text, arn, utc("2026-11-30T14:00:00")))
    assert (filled["at"], filled["arn"], filled["n"]) == ("2026-11-30T14:00:00Z", arn, "1")
    assert len(filled["id"]) == 36 and filled["id"] == json.loads(substitute(text, arn, utc("2026-11-30T14:00:00")))["id"]


# ---------------------------------------------------------------- on the runtime's clock

def a_queue() -> tuple[str, str]:
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="schedule-probe")["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def a_schedule(name: str, expression: str, arn: str, zone: str = "UTC", **extra: object) -> None:
    aws.client("scheduler").create_schedule(
        Name=name, ScheduleExpression=expression, ScheduleExpressionTimezone=zone,
        FlexibleTimeWindow={"Mode": "OFF"}, **extra,
        Target={"Arn": arn, "RoleArn": "arn:aws:iam::123456789012:role/r",
                "Input": json.dumps({"name": name, "at": "<aws.scheduler.scheduled-time>"})})


def received(url: str) -> list[tuple[str, str]]:
    sqs, found = aws.client("sqs"), []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return sorted(found, key=lambda m: (m[1], m[0]))
        for message in messages:
            body = json.loads(message["Body"])
            found.append((body["name"], body["at"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


@pytest.mark.slow
def test_given_recurring_and_one_time_schedules_when_the_clock_runs_then_each_occurrence_fires_once_in_its_zone(
        runtime):
    # GIVEN (on Monday 23 November 2026, 14:00 UTC) a weekday 09:00 cron in New York, a 2-day rate,
    # and a one-time schedule on the 25th at 12:00 in Paris (kept, disabled, after it fires)
    url, arn = a_queue()
    a_schedule("weekdays", "cron(0 9 ? * MON-FRI *)", arn, NEW_YORK)
    a_schedule("every-2-days", "rate(2 days)", arn)
    a_schedule("once", "at(2026-11-25T12:00:00)", arn, "Europe/Paris")

    # WHEN the clock runs to Friday evening
    assert runtime.run_until_settled(until=START + timedelta(days=4, hours=6), timeout=60)

    # THEN each fired at its moments, with its scheduled time in the message
    assert received(url) == [
        ("weekdays", "2026-11-24T14:00:00Z"),
        ("once", "2026-11-25T11:00:00Z"),
        ("every-2-days", "2026-11-25T14:00:00Z"),
        ("weekdays", "2026-11-25T14:00:00Z"),
        ("weekdays", "2026-11-26T14:00:00Z"),
        ("every-2-days", "2026-11-27T14:00:00Z"),
        ("weekdays", "2026-11-27T14:00:00Z"),
    ]
    # AND the one-time schedule is disabled (it had no ActionAfterCompletion: DELETE), the others enabled
    states = {s["Name"]: s["State"] for s in aws.client("scheduler").list_schedules()["Schedules"]}
    assert states == {"weekdays": "ENABLED", "every-2-days": "ENABLED", "once": "DISABLED"}

    # WHEN the clock is advanced over the weekend: Monday's occurrence fires (and nothing twice)
    runtime.clock.advance(timedelta(days=3).total_seconds())
    assert received(url) == [("every-2-days", "2026-11-29T14:00:00Z"), ("weekdays", "2026-11-30T14:00:00Z")]


@pytest.mark.slow
def test_given_only_a_recurring_schedule_then_the_clock_settles_and_does_not_run_to_its_occurrences(runtime):
    # GIVEN an every-minute schedule and nothing else running
    url, arn = a_queue()
    a_schedule("every-minute", "rate(1 minute)", arn)

    # WHEN the runtime is run until settled (no until)
    began = time.monotonic()
    assert runtime.run_until_settled(timeout=10)

    # THEN it settles at once, where it was, and fired nothing: a recurring schedule does not hold it
    assert time.monotonic() - began < 5 and runtime.clock.now() == START and received(url) == []
