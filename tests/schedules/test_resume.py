"""A broadcast interrupted halfway and resumed (issue 10: "resumable after a crash halfway"): the
occurrence's page is delivered again and handled again; each member is enrolled once and the
progress counts each page and each member once (automaps.journeys.broadcasts)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from automaps import aws
from automaps.journeys import broadcasts
from automaps.store.broadcasts import BroadcastStore
from automaps.store.contacts import ContactStore
from tests.e2e.conftest import START
from tests.schedules.helpers import deploy, starts, vip_members

pytestmark = pytest.mark.slow
MONDAY = "2026-11-30T14:00:00Z"


class LambdaDies:
    """The EnrollFunction invocation dies (a timeout, a crash) at the ``nth`` call of ``operation``
    whose message body contains ``marker``, once; the SQS message then comes back after its back-off."""

    def __init__(self, operation: str, nth: int, marker: str = "") -> None:
        self.operation, self.nth, self.marker, self.calls, self.died = operation, nth, marker, 0, 0

    def __call__(self, params: dict[str, Any], **_: Any) -> None:
        bodies = [params.get("MessageBody", "")] + [e.get("MessageBody", "") for e in params.get("Entries", [])]
        if not any(self.marker in body for body in bodies):
            return
        self.calls += 1
        if self.calls == self.nth:
            self.died += 1
            raise RuntimeError("Task timed out after 30.00 seconds")

    def __enter__(self) -> LambdaDies:
        aws.client("sqs").meta.events.register(f"provide-client-params.sqs.{self.operation}", self)
        return self

    def __exit__(self, *_: object) -> None:
        aws.client("sqs").meta.events.unregister(f"provide-client-params.sqs.{self.operation}", self)


@pytest.mark.parametrize(
    ("operation", "nth", "marker", "where"),
    [
        ("SendMessageBatch", 4, "", "after half of the second page's members were queued"),
        ("SendMessage", 1, '"page":1', "after the first page was counted, before the next was queued"),
    ],
)
def test_given_a_broadcast_that_dies_halfway_when_its_page_is_delivered_again_then_no_member_is_enrolled_twice(
        runtime, tmp_path, monkeypatch, operation, nth, marker, where):
    # GIVEN 10 members of "vip", pages of 4 queued 2 a call, and the weekly broadcast weekly-news
    monkeypatch.setattr(broadcasts, "PAGE_SIZE", 4)
    monkeypatch.setattr(broadcasts, "BATCH", 2)
    members = vip_members(runtime, tmp_path, 10, others=0)
    deploy(runtime, "weekly-news")

    # WHEN Monday's occurrence runs and the Lambda dies once, {where}
    with LambdaDies(operation, nth, marker) as fault:
        assert runtime.run_until_settled(until=START + timedelta(days=8), timeout=180)
    assert fault.died == 1

    # THEN every member was enrolled once by that occurrence, and started once
    assert {m: starts(m, "weekly-news") for m in members} == {m: [MONDAY] for m in members}
    for member in members:
        [enrolled] = [h for h in ContactStore().history(member) if h.kind == "map.enrolled"]
    # AND the progress counts 3 pages, 10 found, queued and started, nothing failed
    [run] = BroadcastStore().runs("weekly-news")
    assert (run.at, run.pages, run.found, run.queued, run.started, run.skipped, run.failed, run.done) == (
        MONDAY, 3, 10, 10, 10, 0, 0, True)
    assert run.pending == 0
