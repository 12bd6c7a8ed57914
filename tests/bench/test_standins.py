"""The benchmarks' in-memory stand-ins (bench/memory.py) answer as the services do: the entry
gate's own requests give the same items and the same refusals on moto and on the stand-in, the
queue hides a failed message for its back-off and moves it to the dead-letter queue after
maxReceiveCount receives, and the enrollment bench on a tiny audience keeps its accounting
(every contact started once, throttles answered by the back-off, concurrency under the pollers)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from bench import memory
from bench import enrollment as bench_enrollment


def _gate_story(store_items: Any) -> list[Any]:
    """The entry gate's requests, in the order a contact meets them: claim, a second claim while the
    start is pending, confirm, a refused claim (after_exit, still inside), release, claim again,
    revert. Returns each outcome and the gate item after each step."""
    from automaps.journeys import enrollment

    record = enrollment.MapRecord(
        id="m", state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:m", version="1", triggers=[]
    )
    seen: list[Any] = []

    def outcome(step: Any) -> None:
        try:
            seen.append(step())
        except enrollment.StartDeferred as deferred:
            seen.append(("deferred", deferred.reason))
        seen.append(store_items())

    outcome(lambda: enrollment._claim_entry("c1", record, "e1", "token-1"))
    outcome(lambda: enrollment._claim_entry("c1", record, "e2", "token-2"))
    outcome(lambda: enrollment._confirm("c1", "m", "token-1"))
    outcome(lambda: enrollment._claim_entry("c1", record, "e2", "token-2"))
    outcome(lambda: enrollment.release("c1", "m", "e1"))
    outcome(lambda: enrollment._claim_entry("c1", record, "e2", "token-3"))
    outcome(lambda: enrollment._revert("c1", "m", "e2", "token-3"))
    return seen


def test_given_the_entry_gate_when_its_requests_run_on_moto_and_on_the_stand_in_then_they_agree(aws, clock):
    # GIVEN the contacts table on moto, and the in-memory DynamoDB
    from automaps import aws as clients
    from automaps import config

    def moto_gate() -> dict[str, Any]:
        found = clients.client("dynamodb").get_item(
            TableName=config.contacts_table(), Key={"pk": {"S": "CONTACT#c1"}, "sk": {"S": "ENTRY#m"}}
        )
        return found.get("Item", {})

    fake = memory.DynamoDB()

    def fake_gate() -> dict[str, Any]:
        return fake.tables[config.contacts_table()].get(("CONTACT#c1", "ENTRY#m"), {})

    # WHEN the gate's story runs on each
    on_moto = _gate_story(moto_gate)
    real = clients.client("dynamodb")
    clients._clients["dynamodb"] = fake
    try:
        on_fake = _gate_story(fake_gate)
    finally:
        clients._clients["dynamodb"] = real

    # THEN every outcome and every gate item is the same (a claim, a pending start, a refusal, the
    # gate restored by the revert to what it held after the release)
    assert on_fake == on_moto
    assert on_moto[0] == "claimed" and on_moto[2][0] == "deferred" and on_moto[10] == "claimed"
    assert on_moto[-1]["active"] == {"S": ""} and "starting" not in on_moto[-1]


def test_given_an_update_the_stand_in_cannot_answer_exactly_then_it_refuses_instead_of_guessing():
    fake = memory.DynamoDB()
    with pytest.raises(NotImplementedError):
        fake.update_item(
            TableName="t",
            Key={"pk": {"S": "a"}, "sk": {"S": "b"}},
            UpdateExpression="SET tags = list_append(tags, :more)",
            ExpressionAttributeValues={":more": {"L": []}},
        )
    with pytest.raises(ClientError) as refused:
        fake.update_item(
            TableName="t",
            Key={"pk": {"S": "a"}, "sk": {"S": "b"}},
            UpdateExpression="SET n = :one",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
    assert refused.value.response["Error"]["Code"] == "ConditionalCheckFailedException"


class _Clock:
    t = 0.0


def test_given_a_message_that_always_fails_then_it_returns_after_each_back_off_and_ends_in_the_dead_letter_queue():
    # GIVEN the stand-in queue (visibility 180 s, maxReceiveCount 10) holding one message
    clock = _Clock()
    sqs = memory.SQS(clock, "q", "q-dlq")
    sqs.send_message(QueueUrl="q", MessageBody="{}")
    receives = []
    # WHEN each receive fails and hides the message for 10 s
    while clock.t < 10_000:
        [message] = sqs.receive_message(QueueUrl="q", MaxNumberOfMessages=10).get("Messages") or [None]
        if message is None:
            if not sqs.stored():
                break
            clock.t += 1
            continue
        receives.append((clock.t, message["Attributes"]["ApproximateReceiveCount"]))
        sqs.change_message_visibility(QueueUrl="q", ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=10)
        assert sqs.receive_message(QueueUrl="q").get("Messages") is None  # hidden meanwhile
    # THEN it came back every 10 s, 10 times with a growing receive count, then went to the DLQ
    assert [count for _, count in receives] == [str(n) for n in range(1, 11)]
    assert [t for t, _ in receives] == [10.0 * n for n in range(10)]
    assert len(sqs.dead) == 1 and sqs.stored() == 0


def test_given_a_small_quota_when_the_in_memory_bench_enrolls_a_burst_then_its_accounting_holds():
    # GIVEN Step Functions holding 20 starts and refilling 5 a second, 4 pollers paced at 40 a second
    # WHEN 120 requests arrive at once
    result = bench_enrollment.run_memory(
        120, pollers=4, bucket=20, refill=5, environment={"ENROLL_STARTS_PER_SECOND": "40", "ENROLL_STARTS_BURST": "40"}
    )
    # THEN throttles were answered by the back-off, every contact started once, none lost or doubled
    assert result["throttles"] > 0 and result["failed_messages"] >= result["throttles"]
    assert result["executions"] == 120 and result["executions_per_name_max"] == 1
    assert result["lost"] == 0 and result["doubled"] == 0 and result["dead_letters"] == 0
    # AND no start went faster than the quota, and at most one invocation per poller ran at a time
    assert result["virtual_seconds"] >= (120 - 20) / 5
    assert 1 <= result["peak_concurrency"] <= 4
    # AND each enrollment wrote the gate (claim, confirm), the enrollment and map.enrolled
    assert result["dynamodb_per_enrollment"]["requests"]["PutItem"] >= 2


def test_given_a_broadcast_to_a_segment_when_the_in_memory_bench_runs_it_then_every_member_starts_once_and_is_counted():
    # GIVEN a segment of 2,500 members and one occurrence of a weekly schedule to it on the queue
    # WHEN the consumer runs it (pages of 1,000, their requests, the enrollments) on the stand-ins
    result = bench_enrollment.run_memory(2_500, broadcast=True)
    # THEN each member started once, at the pacing, and the broadcast's progress counted them all
    assert result["executions"] == 2_500 and result["lost"] == 0 and result["doubled"] == 0
    assert result["broadcast_progress"]["found"] == result["broadcast_progress"]["started"] == 2_500
    assert result["broadcast_progress"]["pages"] >= 3 and result["throttles"] == 0
    assert (2_500 - 1_200) / 290 - 0.5 <= result["virtual_seconds"] <= (2_500 - 1_200) / 290 + 0.5
