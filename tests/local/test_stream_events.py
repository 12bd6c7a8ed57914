"""The ContactsTable's stream reaches RouteEventsFunction as Lambda's DynamoDB event source would:
after the writing request, filtered to INSERTs of history entries, in batches, with partial batch
failures retried from the failed record on the virtual clock and then sent to the OnFailure queue.
Faults are injected at the router's public seam (``automaps.journeys.router.route_entry``)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from automaps import aws
from automaps.journeys import router
from automaps.store import contacts
from automaps.store.contacts import ContactStore, HistoryEntry
from automaps_local.runtime import LocalRuntime
from automaps_local.stack import LocalStack
from automaps_local.stream_events import FilterError, check_pattern, matches
from automaps_local.template import Template
from tests.conftest import ROOT
from tests.local.conftest import _put_contact

START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
H_INSERT = {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"sk": {"S": [{"prefix": "H#"}]}}}}


@pytest.fixture
def runtime() -> Iterator[LocalRuntime]:
    """GIVEN the whole stack of template.yaml on the local runtime (discrete virtual clock)."""
    with LocalRuntime(ROOT / "template.yaml", start=START) as running:
        yield running


def routed(runtime: LocalRuntime) -> list[dict[str, Any]]:
    """Every invocation of RouteEventsFunction: when, the records' sort keys, its answer."""
    seen: list[dict[str, Any]] = []

    def listen(function: Any, event: Any, result: Any, error: Any) -> None:
        if function.logical_id == "RouteEventsFunction":
            seen.append({"at": runtime.clock.now(), "records": event["Records"],
                         "sks": [r["dynamodb"]["NewImage"]["sk"]["S"] for r in event["Records"]],
                         "failed": [f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])]})

    runtime.listeners.append(listen)
    return seen


def fail_route_entry(monkeypatch: pytest.MonkeyPatch, kind: str, times: int | None = None) -> list[str]:
    """route_entry raises for entries of ``kind`` (``times`` times, or always); returns the sort keys routed."""
    original, calls, failures = router.route_entry, [], [0]

    def route_entry(contact_id: str, sort_key: str, entry: HistoryEntry) -> None:
        calls.append(sort_key)
        if entry.kind == kind and (times is None or failures[0] < times):
            failures[0] += 1
            raise RuntimeError(f"router down for {kind}")
        original(contact_id, sort_key, entry)

    monkeypatch.setattr(router, "route_entry", route_entry)
    return calls


def record_together(contact_id: str, *kinds: str) -> list[str]:
    """History entries written in one transaction (one request: their records arrive together)."""
    items = [contacts._history_item(contact_id, HistoryEntry(at=START, kind=kind, detail={"n": i}))
             for i, kind in enumerate(kinds)]
    aws.client("dynamodb").transact_write_items(TransactItems=[
        {"Put": {"TableName": ContactStore().table, "Item": item}} for item in items])
    return [item["sk"]["S"] for item in items]


def dead_letters() -> list[dict[str, Any]]:
    url = aws.client("sqs").get_queue_url(QueueName="automaps-RouteDeadLetterQueue")["QueueUrl"]
    messages = aws.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


# ---------------------------------------------------------------------- the wiring, read from the template
def test_given_the_template_then_the_contacts_stream_is_route_events_event_source():
    from moto import mock_aws

    with mock_aws():
        aws.reset()
        stack = LocalStack(Template.load(ROOT / "template.yaml"))
        stack.create_data()
        [source] = stack.dynamodb_event_sources()
        stream = aws.client("dynamodb").describe_table(TableName="automaps-ContactsTable")["Table"]
    aws.reset()

    assert (source.function, source.table, source.stream_arn) == (
        "RouteEventsFunction", "automaps-ContactsTable", stream["LatestStreamArn"])
    assert stream["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    assert source.filters == (H_INSERT,)
    assert (source.batch_size, source.report_failures, source.bisect) == (100, True, True)
    assert (source.maximum_retry_attempts, source.maximum_record_age) == (5, 3600)
    assert source.on_failure is not None and source.on_failure.endswith("/automaps-RouteDeadLetterQueue")


# ---------------------------------------------------------------------- filter rules
def test_given_the_template_filter_then_only_inserts_of_history_entries_match():
    def record(event_name: str, sk: str) -> dict[str, Any]:
        return {"eventName": event_name, "dynamodb": {"NewImage": {"pk": {"S": "CONTACT#c"}, "sk": {"S": sk}}}}

    assert matches(H_INSERT, record("INSERT", "H#2026-11-02T08:00:00Z#a"))
    assert not matches(H_INSERT, record("MODIFY", "H#2026-11-02T08:00:00Z#a"))
    assert not matches(H_INSERT, record("INSERT", "PROFILE"))
    assert not matches(H_INSERT, {"eventName": "REMOVE", "dynamodb": {"Keys": {"sk": {"S": "H#x"}}}})
    assert matches({"dynamodb": {"NewImage": {"kind": {"S": ["tags.changed", "note.added"]}}}},
                   {"dynamodb": {"NewImage": {"kind": {"S": "note.added"}}}})
    assert matches({"dynamodb": {"NewImage": {"map_id": [{"exists": False}]}}}, record("INSERT", "H#x"))
    assert not matches({"dynamodb": {"NewImage": {"pk": [{"exists": False}]}}}, record("INSERT", "H#x"))


def test_given_a_filter_rule_the_local_poller_lacks_then_it_refuses_it_naming_where():
    with pytest.raises(FilterError, match=r"F\.Pattern\.dynamodb\.NewImage\.n: rule \{\"numeric\""):
        check_pattern({"dynamodb": {"NewImage": {"n": [{"numeric": [">", 1]}]}}}, "F.Pattern")
    with pytest.raises(FilterError, match="F.Pattern.eventName: a pattern's leaf is a non-empty list"):
        check_pattern({"eventName": "INSERT"}, "F.Pattern")


# ---------------------------------------------------------------------- the local runtime
def test_given_a_history_entry_when_recorded_then_route_events_gets_it_once_with_its_new_image(runtime):
    seen = routed(runtime)
    _put_contact("c_1", "jane@example.com")

    # WHEN a history entry is written through the store
    entry = ContactStore().record("c_1", "note.added", {"note_id": "n1"})
    assert runtime.run_until_settled() is True

    # THEN RouteEventsFunction got it once, as Lambda sends a stream record, and nothing failed
    records = [r for call in seen for r in call["records"] if r["dynamodb"]["NewImage"]["kind"]["S"] == "note.added"]
    [record] = records
    assert all(call["failed"] == [] and call["at"] == START for call in seen)
    assert record["eventName"] == "INSERT" and record["eventSource"] == "aws:dynamodb"
    assert record["awsRegion"] == "us-east-1" and record["eventID"]
    assert record["eventSourceARN"] == runtime._stack.resolver.attributes[("ContactsTable", "StreamArn")]
    parsed = DynamoDBRecord(record)
    assert parsed.dynamodb is not None and parsed.dynamodb.stream_view_type is not None
    assert parsed.dynamodb.stream_view_type.name == "NEW_IMAGE"
    assert parsed.dynamodb.keys == {"pk": "CONTACT#c_1", "sk": parsed.dynamodb.new_image["sk"]}
    assert parsed.dynamodb.new_image["kind"] == "note.added" and parsed.dynamodb.new_image["detail"] == {"note_id": "n1"}
    assert parsed.dynamodb.new_image["at"] == "2026-11-02T08:00:00Z" and entry.kind == "note.added"
    assert parsed.dynamodb.sequence_number and (parsed.dynamodb.size_bytes or 0) > 0
    assert parsed.dynamodb.approximate_creation_date_time == int(START.timestamp())


def test_given_writes_that_are_no_new_history_entry_then_route_events_is_not_invoked(runtime):
    seen = routed(runtime)

    # WHEN a profile and its email marker are written, and an existing history entry is modified
    _put_contact("c_2", "max@example.com")
    [sk] = record_together("c_2", "note.added")
    assert runtime.run_until_settled() is True
    seen.clear()
    aws.client("dynamodb").update_item(TableName=ContactStore().table, Key={"pk": {"S": "CONTACT#c_2"},
                                       "sk": {"S": sk}}, UpdateExpression="SET seen = :t",
                                       ExpressionAttributeValues={":t": {"BOOL": True}})
    _put_contact("c_2", "max@example.com")
    assert runtime.run_until_settled() is True

    # THEN the filter let none of them through
    assert seen == []


def test_given_a_failing_entry_in_a_batch_then_it_is_redelivered_from_that_record_and_then_routed(
        runtime, monkeypatch):
    seen = routed(runtime)
    calls = fail_route_entry(monkeypatch, "tags.changed", times=2)
    _put_contact("c_3", "ann@example.com")

    # WHEN three entries arrive together and routing the second fails twice
    first, second, third = record_together("c_3", "note.added", "tags.changed", "page.visited")
    assert runtime.run_until_settled() is True

    # THEN the batch is retried from the failed record after 1 s, then 2 s, and nothing is dead-lettered
    assert [(call["at"] - START, call["sks"], len(call["failed"])) for call in seen] == [
        (timedelta(0), [first, second, third], 1),
        (timedelta(seconds=1), [second, third], 1),
        (timedelta(seconds=3), [second, third], 0),
    ]
    assert calls == [first, second, third, second, third, second, third]
    assert dead_letters() == []


def test_given_an_entry_that_always_fails_then_after_the_retries_its_batch_goes_to_the_dlq(runtime, monkeypatch):
    seen = routed(runtime)
    fail_route_entry(monkeypatch, "tags.changed")
    _put_contact("c_4", "bo@example.com")

    # WHEN the second of three entries can never be routed
    first, second, third = record_together("c_4", "note.added", "tags.changed", "page.visited")
    settled = runtime.run_until_settled()

    # THEN run_until_settled waited for the 5 retries (1+2+4+8+16 s of back-off on the virtual clock),
    # and the failure record Lambda writes names the records from the failed one on
    assert settled is True
    assert [call["at"] - START for call in seen] == [timedelta(seconds=s) for s in (0, 1, 3, 7, 15, 31)]
    assert [call["sks"] for call in seen[1:]] == [[second, third]] * 5
    [failure] = dead_letters()
    info = failure["DDBStreamBatchInfo"]
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 6
    assert failure["requestContext"]["functionArn"].endswith(":function:automaps-RouteEventsFunction")
    assert (info["batchSize"], info["streamArn"]) == (2, seen[0]["records"][0]["eventSourceARN"])
    sequence = {r["dynamodb"]["NewImage"]["sk"]["S"]: r["dynamodb"]["SequenceNumber"] for r in seen[0]["records"]}
    assert (info["startSequenceNumber"], info["endSequenceNumber"]) == (sequence[second], sequence[third])
    assert first not in [sk for call in seen[1:] for sk in call["sks"]]


def test_given_pending_records_then_run_until_settled_waits_for_their_delivery(runtime, monkeypatch):
    seen = routed(runtime)
    started, release = threading.Event(), threading.Event()
    original = router.route_entry

    def slow_route_entry(contact_id: str, sort_key: str, entry: HistoryEntry) -> None:
        started.set()
        release.wait(5)
        original(contact_id, sort_key, entry)

    monkeypatch.setattr(router, "route_entry", slow_route_entry)
    _put_contact("c_5", "cy@example.com")
    [sk] = record_together("c_5", "note.added")
    assert started.wait(5)

    # WHEN the router is still busy with the record, the system is not settled
    threading.Timer(0.3, release.set).start()
    assert runtime.clock.running() >= 1
    assert runtime.run_until_settled() is True

    # THEN it returned only once the delivery was done, at the write's instant
    assert [(call["at"], call["sks"]) for call in seen] == [(START, [sk])]


# ---------------------------------------------------------------------- the aws fixture (plain moto)
def test_given_the_aws_fixture_when_an_entry_is_recorded_then_it_is_routed_in_the_writers_thread_after_the_request(
        aws, monkeypatch):
    routed_here: list[tuple[str, str, bool]] = []

    def route_entry(contact_id: str, sort_key: str, entry: HistoryEntry) -> None:
        key = {"pk": {"S": f"CONTACT#{contact_id}"}, "sk": {"S": "PROFILE"}}
        other = threading.Thread(  # another thread's request: it would wait if this ran inside the writer's
            target=lambda: aws_client().get_item(TableName=ContactStore().table, Key=key))
        other.start()
        other.join(5)
        routed_here.append((contact_id, entry.kind, not other.is_alive()))

    monkeypatch.setattr(router, "route_entry", route_entry)
    _put_contact("c_6", "di@example.com")

    ContactStore().record("c_6", "note.added", {"note_id": "n6"})

    assert routed_here == [("c_6", "note.added", True)]


def test_given_the_aws_fixture_when_a_transaction_is_cancelled_then_its_entries_are_never_routed(aws, monkeypatch):
    routed_here: list[str] = []
    monkeypatch.setattr(router, "route_entry", lambda contact_id, sort_key, entry: routed_here.append(entry.kind))
    item = contacts._history_item("c_7", HistoryEntry(at=START, kind="note.added", detail={}))
    table = ContactStore().table

    with pytest.raises(aws_client_error()):
        aws_client().transact_write_items(TransactItems=[
            {"Put": {"TableName": table, "Item": item}},
            {"ConditionCheck": {"TableName": table, "Key": {"pk": {"S": "CONTACT#c_7"}, "sk": {"S": "PROFILE"}},
                                "ConditionExpression": "attribute_exists(pk)"}}])

    assert routed_here == []
    assert aws_client().get_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]}).get("Item") is None


def aws_client() -> Any:
    from automaps import aws as clients

    return clients.client("dynamodb")


def aws_client_error() -> type[Exception]:
    return aws_client().exceptions.TransactionCanceledException
