"""A broadcast's outcomes, counted once each: started, skipped (the trigger's only_if, the entry
rule) and failed (a request given up on: the dead-letter queue), as `automaps broadcast status`
shows them (automaps.store.broadcasts)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import yaml
from botocore.exceptions import ClientError

from automaps import aws
from automaps.journeys import broadcasts
from automaps.journeys.enrollment import enrollment_id_for, execution_name, map_record
from automaps.journeys.schedules import moment_triggers
from automaps.store.lists import ListStore
from automaps.journeys.enroll_queue import MAX_RECEIVES
from automaps.store.broadcasts import BroadcastStore
from automaps.store.contacts import ContactStore
from tests.e2e.conftest import START
from tests.schedules.helpers import FIXTURES, deploy, deploy_again

pytestmark = pytest.mark.slow
TUESDAY = "2026-11-24T14:00:00Z"


class StepFunctionsRefuses:
    """StartExecution is throttled, every time, for the executions of one contact's enrollments."""

    def __init__(self, enrollment_prefix: str) -> None:
        self.prefix, self.refused = enrollment_prefix, 0

    def __call__(self, params: dict[str, Any], **_: Any) -> None:
        if params.get("name", "").startswith(self.prefix):
            self.refused += 1
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "StartExecution")

    def __enter__(self) -> StepFunctionsRefuses:
        aws.client("stepfunctions").meta.events.register("provide-client-params.states.StartExecution", self)
        return self

    def __exit__(self, *_: object) -> None:
        aws.client("stepfunctions").meta.events.unregister("provide-client-params.states.StartExecution", self)


def test_given_a_daily_broadcast_with_only_if_when_it_runs_then_started_skipped_and_failed_are_each_counted_once(
        runtime):
    # GIVEN four contacts on the list "digest", three of them tagged customer
    store, lists, members = ContactStore(), ListStore(), []
    for i in range(4):
        contact, _ = store.upsert_by_email(f"d{i}@example.com", {}, ["customer"] if i < 3 else [])
        lists.add("list", "digest", contact.id)
        members.append(contact.id)
    # AND the map daily-digest (every day from its push) starting only customers
    body = yaml.safe_load((FIXTURES / "daily-digest.yaml").read_text())
    body["triggers"][0]["only_if"] = {"has_tag": "customer"}
    deploy(runtime, "daily-digest")
    deploy_again(runtime, "daily-digest", body)
    # AND Step Functions always throttles the start of the third contact's enrollment
    [(trigger, _)] = moment_triggers(map_record("daily-digest"))
    doomed = enrollment_id_for("daily-digest", members[2], broadcasts.cause_for(trigger, TUESDAY))

    # WHEN the first day's occurrence runs, and two hours pass for the retries (at most 66 minutes
    # of back-off before the 11th receive moves a request to the dead-letter queue)
    with StepFunctionsRefuses(execution_name("daily-digest", doomed)) as refusal:
        assert runtime.run_until_settled(until=START + timedelta(days=1, hours=2), timeout=180)

    # THEN two customers started, the one without the tag was skipped (only_if), and the throttled
    # one was tried MAX_RECEIVES times and given up on (failed), each counted once
    assert refusal.refused == MAX_RECEIVES
    dead_letters = aws.client("sqs").get_queue_attributes(
        QueueUrl=aws.client("sqs").get_queue_url(QueueName="automaps-EnrollDeadLetterQueue")["QueueUrl"],
        AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"]
    assert dead_letters == "1"
    [run] = BroadcastStore().runs("daily-digest")
    assert (run.at, run.found, run.queued, run.started, run.skipped, run.failed, run.pending) == (
        TUESDAY, 4, 4, 2, 1, 1, 0)
    assert [len(store.enrollments(m, "daily-digest")) for m in members] == [1, 1, 0, 0]
    [skipped] = [h for h in store.history(members[3]) if h.kind == "map.enroll_skipped"]
    assert "only_if" in skipped.detail["reason"]
