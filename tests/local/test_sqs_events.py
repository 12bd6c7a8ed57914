"""The local runtime's SQS event sources: a function's ``Type: SQS`` event in template.yaml is
polled in-process as Lambda polls it, with partial batch failures, redeliveries on the virtual
clock once a message's visibility ends, and the queue's redrive policy to its dead-letter queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from automaps import aws
from automaps_local.clock import VirtualClock
from automaps_local.runtime import LocalRuntime
from automaps_local.stack import LocalStack
from automaps_local.template import Template
from tests.conftest import ROOT
from tests.local.conftest import FIXTURES

START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def runtime():
    """GIVEN the SQS fixture stack (WorkQueue, visibility 30 s, 3 receives, then its DLQ) on the runtime."""
    with LocalRuntime(FIXTURES / "sqs-template.yaml", clock=VirtualClock(START, auto_advance=False)) as running:
        yield running


def deliveries(runtime: LocalRuntime) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    runtime.listeners.append(lambda function, event, result, error: seen.append(
        {"at": runtime.clock.now(), "bodies": [r["body"] for r in event["Records"]],
         "receives": [int(r["attributes"]["ApproximateReceiveCount"]) for r in event["Records"]],
         "failed": [f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])]}))
    return seen


def queue(name: str) -> str:
    return aws.client("sqs").get_queue_url(QueueName=f"automaps-{name}")["QueueUrl"]


def bodies(name: str) -> list[str]:
    messages = aws.client("sqs").receive_message(QueueUrl=queue(name), MaxNumberOfMessages=10).get("Messages", [])
    return sorted(m["Body"] for m in messages)


def test_given_the_template_then_its_sqs_events_are_the_event_sources():
    from moto import mock_aws

    with mock_aws():
        aws.reset()
        stack = LocalStack(Template.load(ROOT / "template.yaml"))
        stack.create_data()
        [source] = stack.sqs_event_sources()
        attributes = aws.client("sqs").get_queue_attributes(QueueUrl=source.queue_url,
                                                            AttributeNames=["All"])["Attributes"]
    aws.reset()
    assert (source.function, source.queue_name, source.batch_size, source.report_failures) == (
        "EnrollFunction", "automaps-EnrollQueue", 10, True)
    assert attributes["VisibilityTimeout"] == "180"
    assert '"maxReceiveCount": 10' in attributes["RedrivePolicy"]


def test_given_a_message_sent_then_the_function_has_it_before_send_message_returns(runtime):
    seen = deliveries(runtime)

    aws.client("sqs").send_message(QueueUrl=queue("WorkQueue"), MessageBody="ok-1")

    assert seen == [{"at": START, "bodies": ["ok-1"], "receives": [1], "failed": []}]
    assert runtime.run_until_settled() is True
    assert bodies("WorkQueue") == []


def test_given_failed_messages_then_they_come_back_after_their_visibility_and_then_go_to_the_dlq(runtime):
    seen = deliveries(runtime)

    for body in ("fail-a", "ok-b", "fail-c"):
        aws.client("sqs").send_message(QueueUrl=queue("WorkQueue"), MessageBody=body)
    assert runtime.run_until_settled(until=timedelta(hours=1)) is True

    assert [(d["at"] - START, d["bodies"], d["receives"]) for d in seen] == [
        (timedelta(0), ["fail-a"], [1]), (timedelta(0), ["ok-b"], [1]), (timedelta(0), ["fail-c"], [1]),
        (timedelta(seconds=30, milliseconds=1), ["fail-a", "fail-c"], [2, 2]),   # one batch, partial failure
        (timedelta(seconds=60, milliseconds=2), ["fail-a", "fail-c"], [3, 3]),
    ]
    assert bodies("WorkQueue") == []
    assert bodies("WorkDeadLetterQueue") == ["fail-a", "fail-c"]


def test_given_the_discrete_clock_then_a_long_poll_returns_at_once(runtime):
    answer = aws.client("sqs").receive_message(QueueUrl=queue("WorkDeadLetterQueue"), WaitTimeSeconds=20)

    assert answer.get("Messages", []) == []
    assert runtime.clock.now() == START
