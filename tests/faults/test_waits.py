"""Waits fail safe (issue 8, point 5): a step after a wait never runs early.

The webinar-reminder map (maps/webinar-reminder.yaml) confirms a registration at once and texts a
reminder one hour before the webinar; the wait before the SMS is resolved at run time
(automaps.journeys.journey.resolve_wait, which reads the contact from DynamoDB): by the
confirmation's own invocation (the compiler folds it into the action before, ``then_resolve``),
or, when that cannot, by the ResolveWaitFunction. Faults are injected from outside on the DynamoDB
client every function shares: a botocore hook throttles the requests made while resolve_wait runs
(in either function), nothing else. Runs on the local runtime (moto, virtual clock).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from automaps import aws
from automaps.store.contacts import ContactStore
from automaps.journeys.journey import ConditionCheck, check_condition
from automaps_local.clock import VirtualClock
from automaps_local.runtime import LocalRuntime
from automaps_local.serve import push_content
from tests.conftest import ROOT
from tests.e2e.conftest import START

pytestmark = pytest.mark.slow

MAP = "webinar-reminder"
RESOLVE_WAIT = ("automaps/journeys/journey.py", "resolve_wait")
WEBINAR_AT = START + timedelta(days=3)           # the reminder is due at WEBINAR_AT - 1 hour
THROTTLED = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "Rate of requests exceeds"},
             "ResponseMetadata": {"HTTPStatusCode": 400}}


@pytest.fixture
def runtime() -> Iterator[LocalRuntime]:
    """GIVEN the backend on moto with its maps, templates and forms, at START on a virtual clock
    that moves only when the test runs it."""
    with LocalRuntime(ROOT / "template.yaml", clock=VirtualClock(START, auto_advance=False),
                      environment={"POWERTOOLS_METRICS_DISABLED": "true"}) as running:
        push_content(running)
        yield running


def _inside(code: tuple[str, str]) -> bool:
    """Whether the current call stack runs ``code`` (a file and a function in it)."""
    path, name = code
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename.endswith(path) and frame.f_code.co_name == name:
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


@pytest.fixture
def throttle(runtime: LocalRuntime) -> Iterator[Callable[..., dict[str, int]]]:
    """``throttle(operation, when="before"|"after", times=None)``: DynamoDB ``operation`` requests
    resolve_wait makes fail with ProvisionedThroughputExceededException, before they
    reach moto or after moto has done them (the answer is lost), ``times`` times (None: always).
    Returns the counter of throttled requests."""
    registered: list[tuple[str, Callable[..., Any]]] = []

    def install(operation: str, when: str = "before", times: int | None = None) -> dict[str, int]:
        count = {"throttled": 0}

        def hook(**_: Any) -> None:
            if _inside(RESOLVE_WAIT) and (times is None or count["throttled"] < times):
                count["throttled"] += 1
                raise ClientError(THROTTLED, operation)

        event = f"{'before' if when == 'before' else 'after'}-call.dynamodb.{operation}"
        aws.client("dynamodb").meta.events.register(event, hook)
        registered.append((event, hook))
        return count

    yield install
    for event, hook in registered:
        aws.client("dynamodb").meta.events.unregister(event, hook)


@pytest.fixture
def invocations(runtime: LocalRuntime) -> list[tuple[str, str | None]]:
    """(function logical id, error class name or None) of every invocation, in order."""
    seen: list[tuple[str, str | None]] = []
    runtime.listeners.append(lambda function, event, result, error: seen.append(
        (function.logical_id, type(error).__name__ if error else None)))
    return seen


def register(runtime: LocalRuntime, email: str, webinar_at: str) -> str:
    """A webinar registration: the contact, its enrollment and the map's execution."""
    contact, _ = ContactStore().upsert_by_email(email, {"first_name": "Wes", "phone": "+442079460958",
                                                        "webinar_at": webinar_at})
    enrollment = f"e_{contact.id}"
    ContactStore().create_enrollment(contact.id, MAP, enrollment, {"type": "form_submitted", "form": "webinar"})
    runtime.start_execution(MAP, {"contact_id": contact.id, "enrollment_id": enrollment, "map_id": MAP},
                            f"faults-{enrollment}")
    return contact.id


def history(runtime: LocalRuntime, contact_id: str, kind: str) -> list[dict[str, Any]]:
    return [entry for entry in runtime.contact(contact_id=contact_id)["history"] if entry["kind"] == kind]


def entered(runtime: LocalRuntime, state: str) -> bool:
    """Whether any execution of the map entered ``state``."""
    return any(event.get("stateEnteredEventDetails", {}).get("name") == state
               for execution in runtime.executions(MAP) for event in runtime.history(execution["arn"]))


def test_given_resolve_wait_failing_every_time_when_a_contact_registers_then_no_sms_is_sent_and_it_exits_wait_failed(
        runtime, throttle, invocations):
    # GIVEN every DynamoDB read the ResolveWaitFunction makes is throttled
    throttled = throttle("GetItem")

    # WHEN a contact registers for a webinar in three days and the journey runs to its end
    contact_id = register(runtime, "wes@example.com", WEBINAR_AT.isoformat())
    assert runtime.run_until_settled(timeout=60)

    # THEN the confirmation went out once; its invocation could not work the wait out (1 call + 4
    # retries, each sending nothing again), its last attempt left the wait to the ResolveWaitFunction,
    # which was retried too (1 call + 5 retries); no SMS was sent: neither at registration (the wait
    # was not skipped) nor later
    outbox = runtime.outbox()
    assert len(outbox["emails"]) == 1
    assert outbox["sms"] == []
    assert [e for f, e in invocations if f == "SendEmailFunction"] == ["TransientError"] * 5 + ["Unfolded"]
    assert [e for f, e in invocations if f == "ResolveWaitFunction"] == ["TransientError"] * 6
    assert throttled["throttled"] == 12
    assert len(history(runtime, contact_id, "step.done")) == 1 and history(runtime, contact_id, "step.failed") == []
    assert not entered(runtime, "reminder-sms"), "the step after the wait never ran"
    # and the contact left the map with reason wait_failed, saying what failed
    exits = history(runtime, contact_id, "map.exited")
    assert [(e["step_id"], e["detail"]["reason"], e["detail"]["error"]) for e in exits] == [
        ("hour-before", "wait_failed", "TransientError")]
    assert "ProvisionedThroughputExceededException" in exits[0]["detail"]["cause"]
    assert ContactStore().get_enrollment(contact_id, MAP, f"e_{contact_id}").status == "exited"
    assert [x["status"] for x in runtime.executions(MAP)] == ["SUCCEEDED"]


def test_given_resolve_wait_throttled_twice_when_a_contact_registers_then_the_retry_keeps_the_reminder_on_time(
        runtime, throttle, invocations):
    # GIVEN the ResolveWaitFunction's first two reads are throttled, then DynamoDB recovers
    throttle("GetItem", times=2)

    # WHEN a contact registers and the journey runs to its end
    contact_id = register(runtime, "wes@example.com", WEBINAR_AT.isoformat())
    assert runtime.run_until_settled(timeout=60)

    # THEN the confirmation's Retry absorbed the throttling (the email went once, the wait was worked
    # out on the third attempt, no resolve Task ran): exactly one SMS, one hour before the webinar
    assert [e for f, e in invocations if f == "SendEmailFunction"] == ["TransientError", "TransientError", None]
    assert [e for f, e in invocations if f == "ResolveWaitFunction"] == []
    assert len(runtime.outbox()["emails"]) == 1
    sms = runtime.outbox()["sms"]
    assert len(sms) == 1
    assert sms[0]["at"] == (WEBINAR_AT - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert [e["detail"]["reason"] for e in history(runtime, contact_id, "map.exited")] == ["completed"]


def test_given_a_late_registration_when_the_skip_is_recorded_and_its_answer_lost_then_the_retry_records_nothing_twice(
        runtime, throttle, invocations):
    # GIVEN the first history write the ResolveWaitFunction makes is done, and then its answer lost
    throttle("PutItem", when="after", times=1)

    # WHEN a contact registers 30 minutes before the webinar (too late for the reminder)
    contact_id = register(runtime, "late@example.com", (START + timedelta(minutes=30)).isoformat())
    assert runtime.run_until_settled(timeout=60)

    # THEN resolve_wait ran twice (in the confirmation's invocation and its retry), but the skip is on
    # the history once, and the contact left the map
    assert [e for f, e in invocations if f == "SendEmailFunction"] == ["TransientError", None]
    assert len(runtime.outbox()["emails"]) == 1
    skipped = history(runtime, contact_id, "step.skipped")
    assert [(e["step_id"], e["detail"]["then"]) for e in skipped] == [("hour-before", "left the map")]
    assert [e["detail"]["reason"] for e in history(runtime, contact_id, "map.exited")] == ["wait_past"]
    assert runtime.outbox()["sms"] == []


def test_given_a_check_condition_retried_after_its_write_then_condition_evaluated_is_recorded_once(runtime):
    # GIVEN a contact and a check_condition visit (as the Task state sends it)
    contact, _ = ContactStore().upsert_by_email("c@example.com", {"first_name": "C"})
    visit = {"execution_id": "arn:aws:states:us-east-1:123456789012:execution:m:x", "state_name": "engaged check",
             "state_entered_time": "2026-11-23T14:00:00.123Z"}
    check = ConditionCheck.model_validate({"contact_id": contact.id, "enrollment_id": "e1", "map_id": MAP,
                                           "step_id": "engaged", "condition": {"has_tag": "engaged"}, **visit})

    # WHEN the same visit is decided twice (a Lambda retried after the write), then a later visit
    answers = [check_condition(check), check_condition(check),
               check_condition(check.model_copy(update={"state_entered_time": "2026-11-23T15:00:00.000Z"}))]

    # THEN one entry per visit
    assert answers == [{"result": False}] * 3
    entries = [e for e in ContactStore().history(contact.id) if e.kind == "condition.evaluated"]
    assert len(entries) == 2
