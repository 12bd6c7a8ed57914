"""Tests meet real concurrency: the contact, entry-gate, router and commerce writes from many
threads at once, without the local runtime's serialisation of DynamoDB.

The threads talk HTTP to moto's server mode (``ThreadedMotoServer`` on 127.0.0.1, a thread per
request; clients reach it through ``AWS_ENDPOINT_URL``, which boto3 honours). moto's server does
not serialise requests, but it does not isolate them either, and it never answers a conflict;
``automaps_local.moto_patches.dynamodb_like_aws`` gives it DynamoDB's behaviour: each request
atomic, and a transaction holds its items while it is prepared, so overlapping transactions are
cancelled with ``TransactionConflict`` (and single writes on held items refused) as on AWS. Each
test starts its writers together at a barrier, then checks the end state and that conflicts
really happened and were retried by our code (a step that met one leaves with TransientError and
is run again, as the state's Retry would).
"""

from __future__ import annotations

import importlib
import json
import socket
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from automaps import aws as aws_clients
from automaps import config
from automaps.journeys import enrollment
from automaps.store import routing
from automaps.store.commerce import CommerceStore
from automaps.store.contacts import Contact, ContactStore
from automaps.store.content import ContentStore, to_item
from automaps.journeys.steps import TransientError
from automaps_local.moto_patches import ConflictLog, dynamodb_like_aws

from tests.conftest import ROOT, FakeLambdaContext, load_event

T = TypeVar("T")
WRITERS = 12
RETRIES = 6  # the Task state's Retry: MaxAttempts 5, plus the first attempt


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch, clock) -> Iterator[ConflictLog]:
    """GIVEN the stack's tables in moto's server mode on a loopback port, DynamoDB's concurrency
    rules in force, and every client of this process pointed at it."""
    from automaps_local.stack import LocalStack
    from automaps_local.template import Template
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    aws_clients.reset()
    try:
        with dynamodb_like_aws() as log:
            stack = LocalStack(Template.load(ROOT / "template.yaml"))
            stack.create_data()
            stack.resolver.refs.setdefault("PublicApi", "local")
            for key, value in stack.export_environment().items():
                monkeypatch.setenv(key, value)
            yield log
    finally:
        aws_clients.reset()
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10)
        server.stop()


def together(count: int, work: Callable[[int], T]) -> list[T]:
    """``work(0..count-1)`` in ``count`` threads released at once."""
    start = threading.Barrier(count)

    def run(n: int) -> T:
        start.wait()
        return work(n)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def step(action: str, event: dict[str, Any], retried: Counter[str]) -> dict[str, Any]:
    """The action's Lambda handler, run again on TransientError as the state's Retry would."""
    handler = importlib.import_module(f"functions.{action}.app").lambda_handler
    for _ in range(RETRIES):
        try:
            return handler(event, FakeLambdaContext())
        except TransientError:
            retried[action] += 1
    raise AssertionError(f"{action} still failing after {RETRIES} attempts")


def visit(fixture: str, contact: Contact, n: int, **changes: Any) -> dict[str, Any]:
    """The fixture task event for ``contact``, as visit ``n`` (its own execution)."""
    return {**load_event(fixture), "contact_id": contact.id, **changes,
            "execution_id": f"arn:aws:states:us-east-1:123456789012:execution:automaps-welcome-leads:run-{n}"}


def _items(pk: str, prefix: str) -> list[dict[str, Any]]:
    return aws_clients.client("dynamodb").query(
        TableName=config.contacts_table(), ConsistentRead=True,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues=to_item({":pk": pk, ":prefix": prefix}))["Items"]


# ------------------------------------------------------------------ contacts


def test_given_one_new_address_when_upserted_from_many_threads_then_one_contact_and_one_marker(moto_server):
    # WHEN twelve form posts of one new address are stored at once
    results = together(WRITERS, lambda n: ContactStore().upsert_by_email("Rush@Example.com", {f"field{n}": n}))

    # THEN one contact owns it, created once, with every post's field merged
    ids = {contact.id for contact, _ in results}
    assert len(ids) == 1 and sum(created for _, created in results) == 1
    (owner,) = ids
    assert len(_items("EMAIL#rush@example.com", "EMAIL")) == 1
    scanned = aws_clients.client("dynamodb").scan(TableName=config.contacts_table())["Items"]
    assert [i["pk"]["S"] for i in scanned if i["sk"]["S"] == "PROFILE"] == [f"CONTACT#{owner}"]
    assert len(ContactStore().history(owner, ["contact.created"])) == 1
    assert set(ContactStore().require(owner).fields) >= {f"field{n}" for n in range(WRITERS)}


def test_given_one_contact_when_many_steps_tag_it_at_once_then_every_tag_is_there_once_recorded(moto_server):
    jane, _ = ContactStore().upsert_by_email("jane@example.com", {"first_name": "Jane"})
    retried: Counter[str] = Counter()

    results = together(WRITERS, lambda n: step("change_tags", visit(
        "change_tags.json", jane, n, settings={"add": [f"t{n}"]}), retried))

    assert [r["outcome"] for r in results] == ["done"] * WRITERS
    assert ContactStore().require(jane.id).tags == {f"t{n}" for n in range(WRITERS)}
    changed = ContactStore().history(jane.id, ["tags.changed"])
    assert sorted(e.detail["added"][0] for e in changed) == sorted(f"t{n}" for n in range(WRITERS))
    assert moto_server.conflicts, "the writers never overlapped: the test proves nothing"


# ------------------------------------------------------------------ the entry gate


def test_given_one_contact_when_many_triggers_enroll_it_at_once_then_one_enrollment_and_one_execution(moto_server):
    # GIVEN a map (entry: after_exit) whose state machine exists, and a contact
    jane, _ = ContactStore().upsert_by_email("jane@example.com", {})
    arn = aws_clients.client("stepfunctions").create_state_machine(
        name="automaps-welcome-leads", roleArn="arn:aws:iam::123456789012:role/automaps-maps",
        definition=json.dumps({"StartAt": "Hold", "States": {"Hold": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
    record = enrollment.MapRecord(id="welcome-leads", state_machine_arn=arn, version="1", triggers=[])

    deferred: Counter[str] = Counter()

    def submission(n: int) -> enrollment.EnrollResult:  # the enroll queue's consumer, redelivering a deferred start
        for _ in range(50):
            try:
                return enrollment.enroll(record, jane.id, {"type": "form_submitted"}, f"post-{n}")
            except enrollment.StartDeferred:
                deferred["start"] += 1
                time.sleep(0.02)
        raise AssertionError("the start stayed deferred")

    # WHEN twelve different submissions enroll her at once
    results = together(WRITERS, submission)

    # THEN one enrollment holds the gate, with one execution; the others were refused and say why
    outcomes = Counter(r.outcome for r in results)
    assert outcomes == {"enrolled": 1, "skipped": WRITERS - 1}
    (held,) = [r.enrollment_id for r in results if r.outcome == "enrolled"]
    assert enrollment.active_enrollment(jane.id, "welcome-leads") == held
    assert [e.enrollment_id for e in ContactStore().enrollments(jane.id, "welcome-leads")] == [held]
    executions = aws_clients.client("stepfunctions").list_executions(stateMachineArn=arn)["executions"]
    assert [x["name"] for x in executions] == [enrollment.execution_name("welcome-leads", held)]
    assert len(ContactStore().history(jane.id, ["map.enrolled"])) == 1
    assert len(ContactStore().history(jane.id, ["map.enroll_skipped"])) == WRITERS - 1


# ------------------------------------------------------------------ the lead router


def test_given_many_leads_routed_at_once_then_each_turn_is_taken_once_and_no_rep_is_over_capacity(moto_server):
    reps = [{"email": f"rep{r}@example.com", "name": f"Rep{r}", "max_open_leads": 4} for r in range(3)]
    ContentStore().put("ROUTER", "sales", routing.validate({"strategy": "round_robin", "reps": reps})
                       .model_dump(mode="json"))
    leads = [ContactStore().upsert_by_email(f"lead{n}@example.org", {})[0] for n in range(WRITERS)]
    retried: Counter[str] = Counter()

    results = together(WRITERS, lambda n: step("add_to_lead_router", visit(
        "add_to_lead_router.json", leads[n], n, settings={"router": "sales", "notify": False}), retried))

    assert [r["outcome"] for r in results] == ["done"] * WRITERS
    assert sorted(r["detail"]["turn"] for r in results) == list(range(1, WRITERS + 1))
    owners = Counter(ContactStore().require(lead.id).fields["owner"] for lead in leads)
    assert owners == {rep["email"]: 4 for rep in reps}
    assert {rep["email"]: routing.open_leads("sales", rep["email"]) for rep in reps} == dict(owners)
    assert routing.turns("sales") == WRITERS
    assert moto_server.conflicts, "the writers never overlapped: the test proves nothing"


# ------------------------------------------------------------------ commerce


def test_given_one_contact_when_products_and_purchases_are_added_at_once_then_each_is_stored_and_recorded_once(
        moto_server):
    jane, _ = ContactStore().upsert_by_email("jane@example.com", {"first_name": "Jane"})
    ContactStore().create_enrollment(jane.id, "welcome-leads", "e_5f1c0a9b8e7d6c5b4a392817",
                                     {"type": "form_submitted", "fields": {"order_id": "ord-1"}})
    retried: Counter[str] = Counter()

    def writer(n: int) -> dict[str, Any]:
        if n % 3 == 0:  # the same product from several visits: one product
            return step("add_product", visit("add_product.json", jane, n), retried)
        if n % 3 == 1:  # a purchase per visit (no order id): one each
            return step("add_purchase", visit("add_purchase.json", jane, n, settings={
                "product": "course-pro", "price": "49.00", "currency": "USD"}), retried)
        return step("change_tags", visit("change_tags.json", jane, n, settings={"add": [f"buyer{n}"]}), retried)

    results = together(WRITERS, writer)

    assert [r["outcome"] for r in results] == ["done"] * WRITERS
    store, history = CommerceStore(), ContactStore().history(jane.id)
    assert [p.product_id for p in store.products(jane.id)] == ["ebook-101"]
    assert [e.kind for e in history].count("product.added") == 1
    assert len(store.purchases(jane.id)) == WRITERS // 3
    assert [e.kind for e in history].count("purchase.made") == WRITERS // 3
    assert {f"buyer{n}" for n in range(2, WRITERS, 3)} <= ContactStore().require(jane.id).tags
    assert moto_server.conflicts, "the writers never overlapped: the test proves nothing"
