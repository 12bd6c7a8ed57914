"""Retries repeat nothing: every action that writes to DynamoDB, hit by a fault between its effect
and its answer, then run again for the same visit (the state's Retry), has taken effect once and
its history says so, once.

Faults come from outside the code under test, as botocore hooks on the DynamoDB client:
- ``answer lost``: moto applied the action's transaction, then the answer never arrived
  (a read timeout in ``after-call``);
- ``throttled``: DynamoDB throttled the action's transaction (``before-call``), nothing applied;
- ``save throttled``: the effect is made and answered, then the idempotency record's save is
  throttled, so the step leaves with a transient error after it took effect. A naturally
  idempotent action (automaps.journeys.steps.NATURALLY_IDEMPOTENT) keeps no record: for it the
  fault after the effect is ``exit throttled``, the exit folded into the map's last step
  (``then_exit``) throttled after the step's effect and outcome are recorded.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
import yaml
from automaps import aws as aws_clients
from automaps import clock as clocks
from automaps import config
from automaps.store import routing
from automaps.store.commerce import CommerceStore, Offer, Product, entry
from automaps.store.contacts import Contact, ContactStore
from automaps.store.content import ContentStore
from automaps.store.lists import ListStore
from automaps.journeys.steps import NATURALLY_IDEMPOTENT, TransientError
from automaps.store.tasks import TaskStore
from botocore.exceptions import ClientError, ReadTimeoutError

from tests.actions.sending import a_contact, enrolled, history, task_event
from tests.outbox import sent_emails

ANA, BO = "ana@example.com", "bo@example.com"
TRIGGER = {"type": "form_submitted", "form": "newsletter", "fields": {"plan": "pro", "order_id": "ord-1001"}}


# ------------------------------------------------------------------ faults (botocore hooks)


@contextmanager
def fault(kind: str, operation: str = "TransactWriteItems", nth: int = 1) -> Iterator[list[str]]:
    """GIVEN the ``nth`` ``operation`` of the contacts table after this point meets the fault
    ``kind``; yields what was injected (so a test can tell the fault happened)."""
    injected: list[str] = []
    seen = [0]
    table = config.idempotency_table() if kind == "save throttled" else config.contacts_table()

    def ours(params: dict[str, Any]) -> bool:
        # (not the router's counters, whose transaction the aws fixture runs nested inside the step's
        # own request: the fault is meant for the step's requests; automaps.journeys.stats)
        body = params.get("body")
        return isinstance(body, bytes) and table.encode() in body and b'"STATSBATCH#' not in body

    def before(params: dict[str, Any], **_: Any) -> None:
        if kind != "answer lost" and ours(params) and not injected:
            seen[0] += 1
            if seen[0] == nth:
                injected.append(kind)
                raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"},
                                   "ResponseMetadata": {"HTTPStatusCode": 400}}, operation)

    def after(http_response: Any, parsed: dict[str, Any], **kwargs: Any) -> None:
        request = kwargs.get("context", {}).get("fault_request")
        if kind == "answer lost" and request and not injected:
            seen[0] += 1
            if seen[0] == nth and "Error" not in parsed:
                injected.append(kind)
                raise ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com/")

    def mark(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["fault_request"] = ours(params)

    def exiting(**_: Any) -> None:
        if kind == "exit throttled" and not injected and _inside_exit_map():
            injected.append(kind)
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"},
                               "ResponseMetadata": {"HTTPStatusCode": 400}}, "exit")

    events = aws_clients.client("dynamodb").meta.events
    hooks = [(f"before-call.dynamodb.{operation}", mark), (f"before-call.dynamodb.{operation}", before),
             (f"after-call.dynamodb.{operation}", after), ("before-call.dynamodb", exiting)]
    for n, (name, hook) in enumerate(hooks):
        events.register(name, hook, unique_id=f"fault-{n}")
    try:
        yield injected
    finally:
        for n, (name, _) in enumerate(hooks):
            events.unregister(name, unique_id=f"fault-{n}")


FAULTS = {"answer lost": {}, "throttled": {}, "save throttled": {"operation": "UpdateItem"}}
EXIT = {"step_id": "Completed", "reason": "completed", "position": {"kind": "step", "state": "Completed"}}


def _inside_exit_map() -> bool:
    """Whether the current call stack runs automaps.journeys.journey.exit_map."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "exit_map" and frame.f_code.co_filename.endswith("automaps/journeys/journey.py"):
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


# ------------------------------------------------------------------ the actions and what counts as their effect


@dataclass(frozen=True)
class Case:
    action: str
    kind: str  # the history entry the effect is recorded as
    effects: Callable[[Contact], int]  # how many times the effect is in the store
    given: Callable[[Contact], None] = lambda _: None


def _products(c: Contact) -> int:
    return len(CommerceStore().products(c.id))


def _given_product(c: Contact) -> None:
    CommerceStore().add_product(c.id, Product(product_id="ebook-101", added_at=clocks.now()),
                                lambda p: entry("product.added", {"product": p.product_id}))


def _given_offer(c: Contact) -> None:
    now = clocks.now()
    offer = Offer(offer_id="spring-sale", products=["ebook-101"], discount={"percent": 20}, code="SPRING-20",
                  created_at=now, updated_at=now)
    CommerceStore().put_offer(c.id, "spring-sale", lambda _: offer, lambda _old, new: entry("offer.created", {}))


def _given_router(_: Contact) -> None:
    ContentStore().put("ROUTER", "sales", routing.validate({"strategy": "round_robin", "reps": [
        {"email": ANA, "name": "Ana", "max_open_leads": 5}, {"email": BO, "name": "Bo", "max_open_leads": 5},
    ]}).model_dump(mode="json"))


def _routed(c: Contact) -> int:
    """One rep assignment: the owner is Ana (turn 1), the router counted one turn, Ana one open
    lead, Bo none, and Ana was told once."""
    assert ContactStore().require(c.id).fields.get("owner") == ANA
    assert (routing.turns("sales"), routing.open_leads("sales", ANA), routing.open_leads("sales", BO)) == (1, 1, 0)
    return len([m for m in sent_emails() if m.recipients == [ANA]])


def _members(kind: str, name: str) -> Callable[[Contact], int]:
    return lambda c: sum(1 for m in ListStore().members(kind, name) if m["contact_id"] == c.id)  # type: ignore[arg-type]


CASES = [
    Case("change_tags", "tags.changed", lambda c: int({"lead", "newsletter"} <= ContactStore().require(c.id).tags
                                                      and "cold" not in ContactStore().require(c.id).tags)),
    Case("update_contact", "contact.updated", lambda c: int(ContactStore().require(c.id).fields.get("lifecycle") == "lead"
                                                            and "cold_reason" not in ContactStore().require(c.id).fields)),
    Case("add_note", "note.added", lambda c: len(ContactStore().notes(c.id))),
    Case("assign_task", "task.assigned", lambda c: len(TaskStore().of_contact(c.id))),
    Case("add_to_lead_router", "lead.routed", _routed, _given_router),
    Case("add_product", "product.added", _products),
    Case("remove_product", "product.removed", lambda c: 1 - _products(c), _given_product),
    Case("add_purchase", "purchase.made", lambda c: len(CommerceStore().purchases(c.id))),
    Case("create_special_offer", "offer.created", lambda c: len(CommerceStore().offers(c.id))),
    Case("remove_special_offer", "offer.removed", lambda c: 1 - len(CommerceStore().offers(c.id)), _given_offer),
    Case("add_course_subscription", "course.subscribed", lambda c: len(CommerceStore().course_subscriptions(c.id))),
    Case("update_membership_access", "membership.access_changed",
         lambda c: int(CommerceStore().access(c.id)["members-area"].status == "enabled")),
    Case("add_to_list", "list.added", _members("list", "weekly-newsletter")),
    Case("remove_from_list", "list.removed", lambda c: 1 - _members("list", "weekly-newsletter")(c),
         lambda c: ListStore().add("list", "weekly-newsletter", c.id) and None),
    Case("send_to_fulfillment", "fulfillment.added", _members("fulfillment", "welcome-kit")),
    Case("remove_from_fulfillment", "fulfillment.removed", lambda c: 1 - _members("fulfillment", "welcome-kit")(c),
         lambda c: ListStore().add("fulfillment", "welcome-kit", c.id, fields={}) and None),
]


@pytest.fixture
def jane(aws, clock) -> Contact:
    """GIVEN Jane, a cold lead from the newsletter form, enrolled in welcome-leads by a form post."""
    contact = a_contact("jane@example.com", first_name="Jane", last_name="Doe", address="1 Main St", city="Lyon",
                        country="FR", cold_reason="bounced")
    ContactStore().change_tags(contact.id, add=["newsletter", "cold"])
    enrolled(contact, task_event("change_tags.json", contact), TRIGGER)
    return ContactStore().require(contact.id)


def in_progress_record_expired() -> None:
    """GIVEN the visit's in-progress idempotency record expired before the Retry came (the save of
    its outcome was throttled, so it never became "completed")."""
    db = aws_clients.client("dynamodb")
    for item in db.scan(TableName=config.idempotency_table())["Items"]:
        db.delete_item(TableName=config.idempotency_table(), Key={"id": item["id"]})


def handle(action: str, event: dict[str, Any]) -> dict[str, Any]:
    from tests.conftest import FakeLambdaContext

    return importlib.import_module(f"functions.{action}.app").lambda_handler(event, FakeLambdaContext())


@pytest.mark.parametrize("fault_kind", list(FAULTS))
@pytest.mark.parametrize("case", CASES, ids=[case.action for case in CASES])
def test_given_a_fault_after_the_effect_when_the_visit_is_retried_then_it_took_effect_once_and_is_recorded_once(
        jane, case: Case, fault_kind: str):
    # GIVEN what the action acts on, and the fault between its effect and its answer
    case.given(jane)
    event = task_event(f"{case.action}.json", jane)
    options = FAULTS[fault_kind]
    if fault_kind == "save throttled" and case.action in NATURALLY_IDEMPOTENT:  # no record to save
        fault_kind, event = "exit throttled", {**event, "then_exit": EXIT, "retry_count": 0}

    # WHEN the step runs into the fault, and the state's Retry runs the same visit again
    with fault(fault_kind, **options) as injected, pytest.raises(TransientError):
        handle(case.action, event)
    assert injected == [fault_kind]
    if fault_kind == "save throttled":
        in_progress_record_expired()
    retried = handle(case.action, {**event, "retry_count": 1} if "retry_count" in event else event)

    # THEN one effect, one history entry of it, and the step done
    assert retried["outcome"] == "done", retried
    assert case.effects(jane) == 1
    assert len(history(jane, case.kind)) == 1
    done = history(jane, "step.done")
    assert len(done) == 1
    assert all(entry.detail.get("reason") in (None, "done by an earlier attempt of this visit of the step")
               for entry in done), [entry.detail for entry in done]
    if fault_kind == "exit throttled":  # and the contact left the map once, after the step
        assert [entry.kind for entry in history(jane, "step.done", "map.exited")] == ["step.done", "map.exited"]


@pytest.mark.parametrize("fault_kind", ["answer lost", "throttled"])
def test_given_the_owner_write_after_the_turn_fails_when_the_lead_is_routed_again_then_the_same_rep_gets_it(
        jane, fault_kind: str):
    # GIVEN a router whose turn, slot and assignment are written, then the owner write meets a fault
    _given_router(jane)
    event = task_event("add_to_lead_router.json", jane)

    with fault(fault_kind, nth=2) as injected, pytest.raises(TransientError):
        handle("add_to_lead_router", event)
    assert injected == [fault_kind]
    retried = handle("add_to_lead_router", event)

    # THEN Ana (turn 1) still gets the lead, counted once, told once, recorded once
    assert retried["outcome"] == "done" and retried["detail"]["turn"] == 1
    assert _routed(jane) == 1
    assert [e.detail["rep"] for e in history(jane, "lead.routed")] == ["Ana"]


def test_given_tags_applied_and_the_answer_lost_when_retried_then_the_history_says_what_changed(jane):
    """The case of issue 8: the retry used to say "tags already as requested" and tags.changed
    never reached the history."""
    event = task_event("change_tags.json", jane)
    with fault("answer lost"), pytest.raises(TransientError):
        handle("change_tags", event)

    retried = handle("change_tags", event)

    (changed,) = history(jane, "tags.changed")
    assert changed.detail == {"added": ["lead"], "removed": ["cold"]}
    assert retried["detail"]["added"] == ["lead"] and retried["detail"]["removed"] == ["cold"]


def test_given_a_purchase_with_a_price_when_retried_then_the_total_is_recorded_once(jane):
    event = task_event("add_purchase.json", jane)
    with fault("answer lost"), pytest.raises(TransientError):
        handle("add_purchase", event)

    handle("add_purchase", event)

    (purchase,) = CommerceStore().purchases(jane.id)
    assert (purchase.order_id, purchase.total) == ("ord-1001", Decimal("49.00"))
    assert yaml.safe_dump(history(jane, "purchase.made")[0].detail["total"]) == "'49.00'\n"
