"""Durable intake under faults (issue 8, point 2): a form post is acknowledged once its enrollment
request is on the EnrollQueue; the EnrollFunction enrolls from there. Faults are injected from
outside: botocore hooks on the Step Functions and SQS clients the handlers share, and the SQS
poller's own delete failing (a duplicate delivery). Each test counts contacts enrolled, lost and
locked out, and the messages sent (the welcome email)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from werkzeug.test import Client

from automaps import aws as aws_clients
from automaps.journeys import enrollment
from automaps.intake import forms
from automaps_local.clock import VirtualClock
from automaps_local.http import LocalApi
from automaps_local.runtime import LocalRuntime
from automaps_local.serve import push_content
from tests.conftest import ROOT, load_event

pytestmark = pytest.mark.slow

MONDAY_9AM = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # 09:00 in New York
MAP = "welcome-leads"


@dataclass
class Fault:
    """Raises ``code`` from a client call for its first ``times`` calls (None: for ever)."""

    code: str
    times: int | None
    calls: int = 0
    status: int = 400

    def __call__(self, **_: Any) -> None:
        self.calls += 1
        if self.times is None or self.calls <= self.times:
            raise ClientError({"Error": {"Code": self.code, "Message": f"injected {self.code}"},
                               "ResponseMetadata": {"HTTPStatusCode": self.status}}, "injected")


@dataclass
class Backend:
    runtime: LocalRuntime
    api: Client
    faults: list[tuple[Any, str, Callable[..., Any]]] = field(default_factory=list)

    def post(self, **changes: Any) -> Any:
        body = {**json.loads(load_event("form_post_json.json")["body"]), **changes}
        return self.api.post("/forms/newsletter", data=json.dumps(body), headers={"Content-Type": "application/json"})

    def inject(self, service: str, event: str, hook: Callable[..., Any]) -> None:
        client = aws_clients.client(service)
        client.meta.events.register(event, hook)
        self.faults.append((client, event, hook))

    def heal(self) -> None:
        for client, event, hook in self.faults:
            client.meta.events.unregister(event, hook)
        self.faults.clear()

    def settle(self, hours: float = 1) -> None:
        self.runtime.run_until_settled(until=timedelta(hours=hours))

    # ------------------------------------------------------------------ what the world saw
    def contact(self) -> dict:
        return self.runtime.contact(email="jane.doe@example.com")

    def kinds(self) -> list[str]:
        return [h["kind"] for h in self.contact()["history"]]

    def welcome_emails(self) -> list[dict]:
        return [m for m in self.runtime.outbox()["emails"] if [a.lower() for a in m["to"]] == ["jane.doe@example.com"]]

    def executions(self) -> list[dict]:
        return self.runtime.executions(MAP)

    def gate(self) -> dict:
        return enrollment._gate(self.contact()["contact_id"], MAP)

    def dead_letters(self) -> list[dict]:
        sqs = aws_clients.client("sqs")
        url = sqs.get_queue_url(QueueName="automaps-EnrollDeadLetterQueue")["QueueUrl"]
        return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])

    def queued(self) -> int:
        sqs = aws_clients.client("sqs")
        url = sqs.get_queue_url(QueueName="automaps-EnrollQueue")["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


@pytest.fixture
def backend() -> Iterator[Backend]:
    """GIVEN the backend from template.yaml on the local runtime (the EnrollQueue between the form
    and the maps), content pushed, at a virtual instant that moves only when the test runs it."""
    with LocalRuntime(ROOT / "template.yaml", clock=VirtualClock(MONDAY_9AM, auto_advance=False),
                      environment={"POWERTOOLS_METRICS_DISABLED": "true"}) as runtime:
        push_content(runtime)
        running = Backend(runtime, Client(LocalApi(runtime)))
        yield running
        running.heal()


def assert_enrolled_once(backend: Backend) -> None:
    """Enrolled 1, lost 0, locked out 0: one execution, one map.enrolled, one welcome email, the
    gate held by that enrollment with no start pending, nothing left queued or dead."""
    [execution] = backend.executions()
    assert backend.kinds().count("map.enrolled") == 1
    assert len(backend.welcome_emails()) == 1
    [stored] = backend.contact()["enrollments"]
    gate = backend.gate()
    assert gate["active"] == stored["enrollment_id"] == execution["input"]["enrollment_id"]
    assert "starting" not in gate and gate["entries"] == 1
    assert backend.queued() == 0 and backend.dead_letters() == []


# ------------------------------------------------------------------ StartExecution refused for a while


@pytest.mark.parametrize("code, times, status", [
    ("ThrottlingException", 3, 400), ("ExecutionLimitExceeded", 5, 400), ("ServiceUnavailable", 2, 503)])
def test_given_start_execution_refused_n_times_when_a_form_is_posted_then_it_is_accepted_and_enrolled_once(
        backend, code, times, status):
    # GIVEN Step Functions refuses the first N StartExecution calls
    refusal = Fault(code, times, status=status)
    backend.inject("stepfunctions", "before-call.sfn.StartExecution", refusal)

    # WHEN Jane signs up
    response = backend.post()
    assert backend.executions() == [] and backend.gate() == {}  # refused so far, and nothing held
    backend.settle()

    # THEN the post was acknowledged as queued, and after the retries she is enrolled exactly once
    assert response.status_code == 202
    assert response.get_json()["enrollments"] == [{"map_id": MAP, "outcome": "queued"}]
    assert refusal.calls == times + 1
    assert_enrolled_once(backend)
    assert backend.contact()["tags"] and "lead" in backend.contact()["tags"]


def test_given_a_throttled_start_then_the_gate_is_not_claimed_between_the_retries(backend):
    # GIVEN StartExecution is throttled for ever
    backend.inject("stepfunctions", "before-call.sfn.StartExecution", Fault("ThrottlingException", None))

    # WHEN Jane signs up and the first attempt has failed
    assert backend.post().status_code == 202

    # THEN nothing holds the contact: no gate, no enrollment without an execution, the request queued
    contact = backend.contact()
    assert backend.gate() == {}
    assert contact["enrollments"] == []
    assert backend.queued() == 1


def test_given_throttled_starts_when_jane_posts_again_with_changed_fields_then_the_entry_rule_decides(backend):
    # GIVEN the first sign-up got through after three throttled starts
    backend.inject("stepfunctions", "before-call.sfn.StartExecution", Fault("ThrottlingException", 3))
    backend.post()
    backend.settle()

    # WHEN she posts the form again with another first name, while still inside the map
    again = backend.post(first_name="Janet")
    backend.settle()

    # THEN after_exit keeps her out of a second run, and says why; one email only
    assert again.status_code == 202
    [skip] = [h for h in backend.contact()["history"] if h["kind"] == "map.enroll_skipped"]
    assert skip["detail"]["reason"] == "the contact is still inside the map (entry: after_exit)"
    assert_enrolled_once(backend)


def test_given_a_throttled_first_post_when_a_changed_post_comes_between_retries_then_one_enrollment_wins(backend):
    # GIVEN the first post's start is throttled (its request waits for its retry)
    backend.inject("stepfunctions", "before-call.sfn.StartExecution", Fault("ThrottlingException", 1))
    backend.post()

    # WHEN a second post with changed fields arrives before that retry, and both are settled
    backend.post(first_name="Janet")
    backend.settle()

    # THEN the entry rule admits exactly one of them (the gate was free), the other is skipped
    assert_enrolled_once(backend)
    assert backend.kinds().count("map.enroll_skipped") == 1


# ------------------------------------------------------------------ StartExecution refused for good


def test_given_start_execution_failing_for_ever_then_the_request_ends_in_the_dlq_and_the_gate_is_free(backend):
    # GIVEN every StartExecution is throttled
    refusal = Fault("ThrottlingException", None)
    backend.inject("stepfunctions", "before-call.sfn.StartExecution", refusal)

    # WHEN Jane signs up and the intake has given up (10 receives with back-off: about 66 minutes)
    assert backend.post().status_code == 202
    backend.settle(hours=3)

    # THEN the request is in the dead-letter queue, and the contact is neither enrolled nor locked out
    [dead] = backend.dead_letters()
    assert json.loads(dead["Body"])["map_id"] == MAP
    assert refusal.calls == 10
    assert backend.gate() == {} and backend.contact()["enrollments"] == []
    assert backend.welcome_emails() == [] and backend.executions() == []

    # WHEN Step Functions recovers and she posts again with changed fields
    backend.heal()
    assert backend.post(first_name="Janet").status_code == 202
    backend.settle()

    # THEN she is enrolled (once)
    [execution] = backend.executions()
    assert len(backend.welcome_emails()) == 1
    assert backend.gate()["active"] == execution["input"]["enrollment_id"]


def test_given_a_5xx_whose_start_happened_anyway_then_the_claim_is_kept_and_she_is_enrolled_once(backend):
    # GIVEN StartExecution starts the execution but the answer is a 500 (lost), once
    lost = Fault("InternalServerError", 1, status=500)
    backend.inject("stepfunctions", "after-call.sfn.StartExecution", lost)

    # WHEN Jane signs up
    assert backend.post().status_code == 202
    backend.settle()

    # THEN the intake asked Step Functions, found the execution, and kept it: one run, one email
    assert lost.calls == 1
    assert_enrolled_once(backend)


# ------------------------------------------------------------------ SQS delivering twice


def test_given_sqs_delivers_the_same_message_twice_then_there_is_one_execution_and_one_map_enrolled(backend):
    # GIVEN the poller's delete of the first delivery fails, so SQS delivers the message again
    # once its visibility timeout (180 s) has passed
    failed_delete = Fault("InternalError", 1, status=500)
    backend.inject("sqs", "before-call.sqs.DeleteMessageBatch", failed_delete)
    receives: list[int] = []
    backend.runtime.listeners.append(
        lambda function, event, result, error: receives.extend(
            int(r["attributes"]["ApproximateReceiveCount"]) for r in event.get("Records", [])
            if function.logical_id == "EnrollFunction"))

    # WHEN Jane signs up
    assert backend.post().status_code == 202
    backend.settle()

    # THEN the same message was handled twice, and she is enrolled once
    assert receives == [1, 2]
    assert_enrolled_once(backend)


def test_given_a_double_click_then_two_requests_are_queued_and_she_is_enrolled_once(backend):
    # WHEN the same values are posted twice in a row (one submission)
    first, second = backend.post(), backend.post()
    backend.settle()

    # THEN both are acknowledged, and one enrollment results
    assert first.status_code == second.status_code == 202
    assert_enrolled_once(backend)


# ------------------------------------------------------------------ SQS refusing the request


def test_given_send_message_throttled_twice_when_a_form_is_posted_then_it_is_accepted_and_enrolled_once(backend):
    # GIVEN SQS throttles the first two SendMessage calls
    throttle = Fault("ThrottlingException", 2)
    backend.inject("sqs", "before-call.sqs.SendMessage", throttle)

    # WHEN Jane signs up
    response = backend.post()
    backend.settle()

    # THEN the third try was durable, the post acknowledged, and she is enrolled once
    assert response.status_code == 202
    assert throttle.calls == 3
    assert_enrolled_once(backend)


def test_given_send_message_answer_lost_then_the_retry_duplicates_the_request_and_she_is_enrolled_once(backend):
    # GIVEN SQS stores the first message but its answer is lost
    lost = Fault("InternalError", 1, status=500)
    backend.inject("sqs", "after-call.sqs.SendMessage", lost)

    # WHEN Jane signs up
    response = backend.post()
    backend.settle()

    # THEN the request went out twice, and one enrollment results
    assert response.status_code == 202
    assert lost.calls == 2
    assert_enrolled_once(backend)


def test_given_sqs_refusing_every_send_then_the_post_is_not_acknowledged_and_a_repost_completes_it(backend):
    # GIVEN SQS refuses every SendMessage
    backend.inject("sqs", "before-call.sqs.SendMessage", Fault("ThrottlingException", None))

    # WHEN the form is submitted
    data = json.loads(load_event("form_post_json.json")["body"])
    with pytest.raises(enrollment.IntakeUnavailable) as refused:
        forms.submit("newsletter", data)

    # THEN the poster is told to come back (Retry-After), nothing is enrolled or locked
    assert refused.value.retry_after == enrollment.RETRY_AFTER_SECONDS
    assert backend.contact()["enrollments"] == [] and backend.gate() == {}

    # WHEN SQS recovers and the same values are posted again
    backend.heal()
    assert backend.post().status_code == 202
    backend.settle()

    # THEN she is enrolled once
    assert_enrolled_once(backend)


# ------------------------------------------------------------------ the gate after a failed start, per entry rule

PASS_MACHINE = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}


class LambdaTimedOut(BaseException):
    """What a function stopped by its timeout looks like from inside: nothing after it runs."""


def _record(reenter: str, min_interval: int = 0) -> enrollment.MapRecord:
    arn = aws_clients.client("stepfunctions").create_state_machine(
        name="automaps-m", definition=json.dumps(PASS_MACHINE), roleArn="arn:aws:iam::123456789012:role/x")[
        "stateMachineArn"]
    return enrollment.MapRecord(id="m", state_machine_arn=arn, version="v1", triggers=[],
                                entry=enrollment.EntryRule(reenter=reenter, min_interval_seconds=min_interval))


@pytest.mark.parametrize("reenter, min_interval, before", [
    ("never", 0, 0),            # first entry: the gate item must not survive (never would refuse for good)
    ("after_exit", 0, 0),
    ("after_exit", 0, 1),       # an earlier run that has exited
    ("always", 0, 1),
    ("always", 3600, 1),        # min_interval: last_started_at must go back, or the next entry waits an hour
])
def test_given_an_entry_rule_when_the_start_fails_then_the_gate_is_exactly_as_before(
        aws, store, clock, reenter, min_interval, before):
    # GIVEN a contact with `before` earlier (exited) runs of the map
    record = _record(reenter, min_interval)
    contact, _ = store.upsert_by_email("rule@example.com", {})
    for i in range(before):
        done = enrollment.enroll(record, contact.id, {"type": "test"}, f"old-{i}")
        enrollment.release(contact.id, "m", done.enrollment_id)
    clock.advance(hours=2)
    gate_before = enrollment._gate(contact.id, "m")

    # WHEN the next start is throttled
    aws_clients.client("stepfunctions").meta.events.register("before-call.sfn.StartExecution",
                                                             Fault("ThrottlingException", 1))
    with pytest.raises(enrollment.StartDeferred):
        enrollment.enroll(record, contact.id, {"type": "test"}, "new")

    # THEN the gate holds what it held, no enrollment was left without an execution, and the
    # retry enrolls under the rule
    assert enrollment._gate(contact.id, "m") == gate_before
    assert len(store.enrollments(contact.id, "m")) == before
    assert enrollment.enroll(record, contact.id, {"type": "test"}, "new").outcome == "enrolled"
    assert [h.kind for h in store.history(contact.id)].count("map.enrolled") == before + 1


def test_given_an_attempt_killed_after_its_claim_then_a_retry_waits_for_its_lease_and_then_takes_it_over(
        aws, store, clock):
    # GIVEN the consumer is killed (its timeout) inside StartExecution, after claiming the gate
    record = _record("after_exit")
    contact, _ = store.upsert_by_email("lease@example.com", {})
    sfn = aws_clients.client("stepfunctions")

    def killed(**_: Any) -> None:
        raise LambdaTimedOut()

    sfn.meta.events.register("before-call.sfn.StartExecution", killed)
    with pytest.raises(LambdaTimedOut):
        enrollment.enroll(record, contact.id, {"type": "test"}, "s1")
    sfn.meta.events.unregister("before-call.sfn.StartExecution", killed)
    assert enrollment._gate(contact.id, "m")["starting"]

    # WHEN the message is delivered again inside the lease, and once more after it
    with pytest.raises(enrollment.StartDeferred):
        enrollment.enroll(record, contact.id, {"type": "test"}, "s1")
    clock.advance(seconds=enrollment.START_LEASE_SECONDS + 1)
    result = enrollment.enroll(record, contact.id, {"type": "test"}, "s1")

    # THEN the later delivery took the dead attempt's claim over and enrolled, once
    assert result.outcome == "enrolled"
    gate = enrollment._gate(contact.id, "m")
    assert gate["active"] == result.enrollment_id and "starting" not in gate and gate["entries"] == 1
    assert len(sfn.list_executions(stateMachineArn=record.state_machine_arn)["executions"]) == 1


def test_given_another_contacts_dead_claim_then_a_new_submission_settles_it_and_enters(aws, store, clock):
    # GIVEN an attempt for submission s1 was killed after its claim (no execution started)
    record = _record("after_exit")
    contact, _ = store.upsert_by_email("stale@example.com", {})
    sfn = aws_clients.client("stepfunctions")

    def killed(**_: Any) -> None:
        raise LambdaTimedOut()

    sfn.meta.events.register("before-call.sfn.StartExecution", killed)
    with pytest.raises(LambdaTimedOut):
        enrollment.enroll(record, contact.id, {"type": "test"}, "s1")
    sfn.meta.events.unregister("before-call.sfn.StartExecution", killed)

    # WHEN, after its lease, another submission s2 arrives (s1's message is gone, e.g. in the DLQ)
    clock.advance(seconds=enrollment.START_LEASE_SECONDS + 1)
    result = enrollment.enroll(record, contact.id, {"type": "test"}, "s2")

    # THEN s1's claim was undone and s2 entered: the contact is not locked out
    assert result.outcome == "enrolled"
    assert enrollment._gate(contact.id, "m")["active"] == result.enrollment_id
    assert [e.enrollment_id for e in store.enrollments(contact.id, "m")] == [result.enrollment_id]
