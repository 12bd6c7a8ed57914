"""Numbers per map and step (automaps.journeys.stats): the router counts each stream batch once,
in one transaction with the batch's marker, whatever the stream redelivers; rates on read."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from automaps.journeys import router, stats
from automaps.store import contacts
from automaps.store import stats as stats_store
from automaps.store.contacts import HistoryEntry
from tests.conftest import FakeLambdaContext, load_event

AT = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/Contacts/stream/2026-11-01T00:00:00.000"
MAP = "spring-promo"


def entry(kind: str, step: str | None = "promo-email", contact: str = "c-1", **detail: Any) -> tuple[str, HistoryEntry]:
    return contact, HistoryEntry(at=AT, kind=kind, map_id=MAP, step_id=step, detail=detail)


def record(n: int, contact_id: str, item: HistoryEntry) -> dict[str, Any]:
    """A DynamoDB stream record of a history entry's INSERT, as Lambda delivers it (sequence number n)."""
    image = contacts._history_item(contact_id, item)
    image["sk"] = {"S": f"H#{(AT + timedelta(seconds=n)).isoformat()}#{n:04d}"}
    return {"eventID": f"e{n}", "eventName": "INSERT", "eventSource": "aws:dynamodb", "eventSourceARN": STREAM,
            "dynamodb": {"NewImage": image, "SequenceNumber": str(1000 + n), "StreamViewType": "NEW_IMAGE"}}


def batch(entries: list[tuple[str, HistoryEntry]], start: int = 0) -> dict[str, Any]:
    return {"Records": [record(start + i, contact, item) for i, (contact, item) in enumerate(entries)]}


JOURNEY = [
    entry("map.enrolled", None),
    entry("step.done", "tag-lead"),
    entry("email.sent", message_id="m-1"),
    entry("step.done"),
    entry("wait.entered", "two-days"),
    entry("email.delivered", message_id="m-1"),
    entry("email.opened", message_id="m-1"),
    entry("email.opened", message_id="m-1"),   # a second open of the same message
    entry("email.clicked", message_id="m-1", url="https://example.com/a"),
    entry("wait.left", "two-days"),
    entry("map.exited", "Completed", reason="end"),
]


def numbers() -> dict[str, Any]:
    return stats.read_map(MAP)


@pytest.fixture
def counted(aws: Any) -> dict[str, Any]:
    """GIVEN one contact's journey through spring-promo, routed as one stream batch."""
    answer = router.handle(batch(JOURNEY), FakeLambdaContext())
    assert answer["batchItemFailures"] == []
    return numbers()


def test_given_a_batch_of_a_journey_then_the_map_and_its_steps_are_counted(counted: dict[str, Any]) -> None:
    assert (counted["entered"], counted["active"], counted["exited"], counted["exits"]) == (1, 0, 1, {"end": 1})
    email = counted["steps"]["promo-email"]
    assert (email["done"], email["sent"], email["delivered"], email["opened"], email["opens"]) == (1, 1, 1, 1, 2)
    assert (email["clicked"], email["clicks"], email["bounced"], email["channel"]) == (1, 1, 0, "email")
    assert counted["steps"]["tag-lead"]["done"] == 1
    assert counted["steps"]["two-days"]["waiting"] == 0   # +1 and -1
    assert "sent" not in counted["steps"]["tag-lead"]     # not a message step


def test_given_a_batch_delivered_again_after_its_count_then_nothing_is_counted_twice(
    counted: dict[str, Any],
) -> None:
    # WHEN the stream delivers the same batch again (the invocation crashed after the count was written)
    assert router.handle(batch(JOURNEY), FakeLambdaContext())["batchItemFailures"] == []
    # THEN the numbers are as before
    assert numbers() == counted


def test_given_a_batch_delivered_again_with_more_records_then_only_the_new_ones_count(aws: Any) -> None:
    router.handle(batch(JOURNEY[:4]), FakeLambdaContext())
    # WHEN the batch comes again from its first record, with the rest of the journey after it
    router.handle(batch(JOURNEY), FakeLambdaContext())
    # THEN each entry counted once
    assert numbers() == _once()


def _once() -> dict[str, Any]:
    """The numbers of JOURNEY counted once, on a fresh account (for comparison)."""
    return {"map_id": MAP, "entered": 1, "active": 0, "exited": 1, "exits": {"end": 1}, "steps": {
        "promo-email": {"waiting": 0, "done": 1, "skipped": 0, "failed": 0, "unknown": 0, "deferred": 0, "sent": 1,
                        "delivered": 1, "opened": 1, "clicked": 1, "bounced": 0, "complained": 0, "unsubscribed": 0,
                        "opens": 2, "clicks": 1, "channel": "email",
                        "rates": {"delivered": 1.0, "opened": 1.0, "clicked": 1.0, "bounced": 0.0, "complained": 0.0,
                                  "unsubscribed": 0.0}},
        "tag-lead": {"waiting": 0, "done": 1, "skipped": 0, "failed": 0, "unknown": 0, "deferred": 0},
        "two-days": {"waiting": 0, "done": 0, "skipped": 0, "failed": 0, "unknown": 0, "deferred": 0}}}


def test_given_a_record_that_fails_then_it_and_those_after_it_count_when_they_come_again(
    aws: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN routing fails on the 6th record (email.delivered)
    original = router.route_entry

    def route_entry(contact_id: str, sort_key: str, item: HistoryEntry) -> None:
        if item.kind == "email.delivered":
            raise RuntimeError("router down")
        original(contact_id, sort_key, item)

    monkeypatch.setattr(router, "route_entry", route_entry)
    answer = router.handle(batch(JOURNEY), FakeLambdaContext())
    # THEN it is reported, and only the five before it are counted (the later ones were routed but come again)
    assert answer["batchItemFailures"] == [{"itemIdentifier": "1005"}]
    partial = numbers()
    assert (partial["entered"], partial["exited"], partial["steps"]["promo-email"]["sent"]) == (1, 0, 1)
    assert partial["steps"]["two-days"]["waiting"] == 1
    assert partial["steps"]["promo-email"]["opens"] == 0
    # WHEN Lambda retries from the failed record (the router works again)
    monkeypatch.setattr(router, "route_entry", original)
    assert router.handle(batch(JOURNEY[5:], start=5), FakeLambdaContext())["batchItemFailures"] == []
    # THEN everything is counted once
    assert numbers() == _once()


def test_given_a_bisected_batch_after_a_crash_before_the_count_then_each_half_counts_once(aws: Any) -> None:
    # GIVEN the invocation of the whole batch died before counting (a function error): Lambda bisects
    half = len(JOURNEY) // 2
    # WHEN the two halves come as batches of their own
    router.handle(batch(JOURNEY[:half]), FakeLambdaContext())
    router.handle(batch(JOURNEY[half:], start=half), FakeLambdaContext())
    # THEN the numbers are the journey's, once; and a half delivered again (retried) counts nothing more
    router.handle(batch(JOURNEY[:half]), FakeLambdaContext())
    assert numbers() == _once()


def test_given_a_bisected_batch_counted_before_then_its_first_half_counts_nothing(counted: dict[str, Any]) -> None:
    # WHEN the counted batch's first half comes again (Lambda bisecting after an error it saw)
    router.handle(batch(JOURNEY[: len(JOURNEY) // 2]), FakeLambdaContext())
    # THEN it starts at the counted batch's first record, whose marker holds the last counted one
    assert numbers() == counted


def test_given_too_little_time_left_then_the_batch_is_not_counted_but_retried_from_its_first_record(
    aws: Any,
) -> None:
    # GIVEN an invocation with 1 s left (a count could outlive it: a timeout after the write, bisected)
    class Late(FakeLambdaContext):
        def get_remaining_time_in_millis(self) -> int:
            return 1000

    # WHEN the router takes the batch
    answer = router.handle(batch(JOURNEY), Late())
    # THEN nothing is counted and the whole batch is reported failed from its first record ...
    assert answer["batchItemFailures"] == [{"itemIdentifier": "1000"}]
    assert numbers()["entered"] == 0
    # ... which, delivered again, counts once
    router.handle(batch(JOURNEY), FakeLambdaContext())
    assert numbers() == _once()


def test_given_dynamodb_throttles_the_count_then_the_batch_comes_again_and_counts_once(
    aws: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN the counters' transaction is throttled once
    original = stats_store.StatsStore.add
    calls = {"n": 0}

    def add(self: Any, *args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "TransactWriteItems")
        original(self, *args, **kwargs)

    monkeypatch.setattr(stats_store.StatsStore, "add", add)
    # WHEN the router takes the batch, then the stream delivers it again
    assert router.handle(batch(JOURNEY), FakeLambdaContext())["batchItemFailures"] == [{"itemIdentifier": "1000"}]
    assert numbers()["entered"] == 0
    assert router.handle(batch(JOURNEY), FakeLambdaContext())["batchItemFailures"] == []
    # THEN counted once
    assert numbers() == _once()


def test_given_a_fault_in_the_counting_then_routing_is_not_held_up(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: Any, *args: Any, **kwargs: Any) -> None:
        raise ValueError("a bug in the counting")

    monkeypatch.setattr(stats_store.StatsStore, "add", broken)
    assert router.handle(batch(JOURNEY), FakeLambdaContext())["batchItemFailures"] == []


def test_given_two_concurrent_batches_of_one_shard_then_each_counts_its_own_records(aws: Any) -> None:
    # GIVEN ParallelizationFactor > 1: two batches of one shard, their sequence numbers interleaved
    # (a contact's records stay in one of them, in order)
    ann = [entry("map.enrolled", None, contact="ann"), entry("email.sent", contact="ann", message_id="a")]
    bob = [entry("map.enrolled", None, contact="bob"), entry("email.sent", contact="bob", message_id="b")]
    lane_a = {"Records": [record(0, *ann[0]), record(2, *ann[1])]}
    lane_b = {"Records": [record(1, *bob[0]), record(3, *bob[1])]}
    # WHEN both are routed, and each delivered again
    for event in (lane_a, lane_b, lane_b, lane_a):
        router.handle(event, FakeLambdaContext())
    # THEN two entered, two sent
    found = numbers()
    assert (found["entered"], found["steps"]["promo-email"]["sent"]) == (2, 2)


def test_given_opens_of_one_message_in_several_batches_then_it_is_opened_once(aws: Any) -> None:
    sent = [entry("email.sent", message_id="m-9"), entry("email.sent", contact="c-2", message_id="m-8")]
    router.handle(batch(sent), FakeLambdaContext())
    router.handle(batch([entry("email.opened", message_id="m-9")], start=10), FakeLambdaContext())
    router.handle(batch([entry("email.opened", message_id="m-9")], start=20), FakeLambdaContext())
    router.handle(batch([entry("email.opened", message_id="m-9")], start=20), FakeLambdaContext())   # again
    email = numbers()["steps"]["promo-email"]
    assert (email["sent"], email["opened"], email["opens"]) == (2, 1, 2)
    # THEN the open rate is unique opens per email sent
    assert email["rates"]["opened"] == 0.5


def test_given_a_batch_touching_more_counter_items_than_a_transaction_holds_then_it_is_split_and_counted_once(
    aws: Any,
) -> None:
    # GIVEN 150 entries of 150 different steps (each its own counter item)
    many = [entry("step.done", f"step-{n:03d}") for n in range(150)]
    router.handle(batch(many), FakeLambdaContext())
    # WHEN it comes again
    router.handle(batch(many), FakeLambdaContext())
    # THEN each step counted once
    found = numbers()["steps"]
    assert len(found) == 150 and all(step["done"] == 1 for step in found.values())


def test_given_entries_no_map_wrote_then_nothing_is_written(aws: Any) -> None:
    from automaps import aws as clients
    from automaps import config

    item = HistoryEntry(at=AT, kind="page.visited", detail={"url": "https://example.com/"})
    router.handle({"Records": [record(0, "c-1", item)]}, FakeLambdaContext())
    scanned = clients.client("dynamodb").scan(TableName=config.contacts_table())["Items"]
    assert not [i for i in scanned if i["pk"]["S"].startswith(("STATS", "STATSBATCH"))]


def test_given_the_counter_items_then_their_keys_never_reach_the_router() -> None:
    # the stream's filter takes INSERTs of H# items only: no counter, marker or first-open item is one
    keys = [stats_store.counter_key(MAP, None), stats_store.counter_key(MAP, "s"), stats_store.batch_key(STREAM, "1")]
    assert not any(key["sk"].startswith("H#") for key in keys)
    assert not stats_store.UNIQUE_PREFIX.startswith("H#")
    # and the waiting gauge's entries are bookkeeping: not copied into the ByKind index
    from automaps.store import kinds

    assert not kinds.indexed("wait.entered") and not kinds.indexed("wait.left") and kinds.indexed("wait.met")


def test_given_counts_then_rates_are_per_email_sent_and_zero_without_sends() -> None:
    step = stats._step({"channel": "email", "sent": 4, "delivered": 4, "opened": 1, "clicked": 1, "bounced": 0})
    assert step["rates"] == {"delivered": 1.0, "opened": 0.25, "clicked": 0.25, "bounced": 0.0, "complained": 0.0,
                             "unsubscribed": 0.0}
    assert stats._step({"channel": "email"})["rates"]["opened"] == 0.0
    assert stats._step({"channel": "sms", "sent": 2})["rates"] == {"delivered": 0.0, "clicked": 0.0, "unsubscribed": 0.0}
    assert stats._step({"waiting": -1})["waiting"] == 0   # a gauge never shows below zero


def test_given_the_admin_api_then_a_map_s_numbers_are_answered_and_bad_ids_are_refused(
    counted: dict[str, Any],
) -> None:
    from functions.admin_api import app

    event = load_event("admin_map_stats.json")
    for path, status in (("spring-promo", 200), ("Not A Map!", 400), ("no-such-map", 404)):
        asked = {**event, "path": f"/stats/{path}", "pathParameters": {"map_id": path}}
        answer = app.lambda_handler(asked, FakeLambdaContext())
        assert answer["statusCode"] == status, (path, answer["body"])
    body = json.loads(app.lambda_handler(event | {"path": "/stats/spring-promo"}, FakeLambdaContext())["body"])
    assert body == counted
    every = {**event, "path": "/stats", "resource": "/stats", "pathParameters": None}
    assert json.loads(app.lambda_handler(every, FakeLambdaContext())["body"]) == {"maps": []}   # none registered


def test_given_an_unsubscribe_link_of_a_step_s_email_when_it_is_used_then_that_step_counts_it(store: Any) -> None:
    from automaps.api import web
    from automaps.channels import tracking

    # GIVEN Jane, and the unsubscribe link of the email spring-promo's promo-email sent her
    jane, _ = store.upsert_by_email("jane@example.com", {"first_name": "Jane"})
    token = tracking.unsubscribe_token(jane.id, "email", map_id=MAP, step_id="promo-email")
    # WHEN she unsubscribes (the entry reaches the router through the table's stream)
    assert web.unsubscribe(token).status == 200
    # THEN the entry names the step, and the step counts one unsubscribe
    [entry] = [e for e in store.history(jane.id) if e.kind == "unsubscribed"]
    assert (entry.map_id, entry.step_id) == (MAP, "promo-email")
    email = numbers()["steps"]["promo-email"]
    assert (email["unsubscribed"], email["channel"]) == (1, "email")
    # AND a link of before (no map, no step) still unsubscribes, counted nowhere
    assert tracking.read_unsubscribe(tracking.unsubscribe_token(jane.id)).map_id is None
