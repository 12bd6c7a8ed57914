"""What a broadcast costs per member, measured (issue 10's benchmark: "read and write units per
contact ... for a broadcast, and the hottest partition's share"): the requests the occurrence
runner and the intake consumer make for one occurrence, counted by operation and by partition.
The runner and the consumer run in the test's thread here (a message is delivered before its
SendMessage returns); the executions they start run in their own threads and are not counted."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest

from automaps import aws
from automaps.journeys import broadcasts, enrollment
from automaps.journeys.schedules import Occurrence, moment_triggers
from automaps.store.broadcasts import BroadcastStore
from tests.schedules.helpers import deploy, list_members

pytestmark = pytest.mark.slow
MEMBERS, PAGE = 40, 20


class Requests:
    """Every AWS request made in this thread: operation -> count, and DynamoDB writes per partition."""

    def __init__(self) -> None:
        self.thread, self.calls, self.partitions, self.shards = threading.get_ident(), Counter(), Counter(), Counter()

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if threading.get_ident() != self.thread:
            return
        service = model.service_model.service_name
        self.calls[f"{service}:{model.name}"] += 1
        if model.name == "TransactWriteItems":
            for item in params["TransactItems"]:
                key = (lambda body: body.get("Key") or body.get("Item"))(next(iter(item.values())))
                self.partitions[key["pk"]["S"].split("#")[0]] += 1
                if key["sk"]["S"] == "COUNT":
                    self.shards[key["pk"]["S"]] += 1
        elif model.name in ("PutItem", "UpdateItem", "DeleteItem"):
            self.partitions[(params.get("Key") or params.get("Item"))["pk"]["S"].split("#")[0]] += 1

    def __enter__(self) -> Requests:
        for service in ("dynamodb", "sqs", "stepfunctions"):
            aws.client(service).meta.events.register(f"provide-client-params.{service}.*", self)
        return self

    def __exit__(self, *_: object) -> None:
        for service in ("dynamodb", "sqs", "stepfunctions"):
            aws.client(service).meta.events.unregister(f"provide-client-params.{service}.*", self)


def test_a_broadcasts_requests_per_member_are_a_page_share_of_reads_and_a_fixed_few_writes(runtime, monkeypatch):
    # GIVEN 40 contacts on the list "digest", the map daily-digest, pages of 20
    monkeypatch.setattr(broadcasts, "PAGE_SIZE", PAGE)
    list_members("digest", MEMBERS)
    deploy(runtime, "daily-digest")
    [(trigger, _)] = moment_triggers(enrollment.map_record("daily-digest"))

    # WHEN its occurrence arrives (as the schedule would send it) and is run, with every enrollment
    with Requests() as requests:
        enrollment.enqueue_body(Occurrence(map_id="daily-digest", trigger=trigger, at="2026-11-24T14:00:00Z")
                                .model_dump_json())

    # THEN per page: one Query of the list, a SendMessageBatch per 10 members, one progress write,
    # the next page's SendMessage; per member: the consumer's gate claim, enrollment, start,
    # confirmation and the map.enrolled entry with its counter shard in one transaction
    calls = requests.calls
    run = BroadcastStore().runs("daily-digest")[0]
    pages = run.pages  # 2 here; DynamoDB itself may answer a full last page with a cursor, and a third, empty page
    assert pages in (MEMBERS // PAGE, MEMBERS // PAGE + 1)
    print({k: round(v / MEMBERS, 3) for k, v in sorted(calls.items())})
    print({k: round(v / MEMBERS, 3) for k, v in sorted(requests.partitions.items())})
    assert calls["stepfunctions:StartExecution"] == MEMBERS
    assert calls["sqs:SendMessageBatch"] == MEMBERS // 10
    assert calls["sqs:SendMessage"] == pages  # the occurrence (sent here, as the schedule would), then each next page
    assert calls["dynamodb:Query"] == pages
    assert calls["dynamodb:TransactWriteItems"] == MEMBERS  # map.enrolled + its counter shard, once
    # AND the broadcast's own items take one write per page; the outcomes spread over 16 shards
    assert requests.partitions["BROADCAST"] == pages + MEMBERS
    assert max(requests.shards.values()) < MEMBERS / 4  # 40 outcomes over 16 shard partitions
    assert (run.found, run.started) == (MEMBERS, MEMBERS)
