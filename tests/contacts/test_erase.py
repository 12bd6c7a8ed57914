"""`DELETE /contacts/{id}` (admin API): erasing a contact (GDPR/CCPA). Every item of theirs goes
(profile, markers, history, enrollments and gates, notes, tasks, list, fulfillment and segment
memberships on both sides with the segment's count, visit and effect markers, products, the date
index), their runs are stopped, the address is kept only as a suppression hash where it must
never be emailed again, an audit item without personal data stays, and erasing twice is fine.
The table's stream is delivered as on AWS (the `aws` fixture): nothing is re-created from it."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
import yaml

from automaps import aws as aws_clients
from automaps import clock
from automaps.store.commerce import CommerceStore, Product
from automaps.store.contacts import ContactStore, Effect, HistoryEntry, suppression_hash
from automaps.store.content import ContentStore, from_item
from automaps.store.dates import DateIndexStore, Indexed
from automaps.store.lists import ListStore
from automaps.store.segments import SegmentStore
from functions.public_api import app as public_api
from tests.admin.givens import assigned
from tests.conftest import ROOT, FakeLambdaContext, load_event
from tests.contacts.calls import CALLER, call
from tests.e2e.conftest import START, runtime  # noqa: F401 (the local runtime fixture)
from tests.triggers.routing import a_map

EMAIL, PHONE = "jane.doe@example.com", "+14155550134"  # what events/form_post_json.json posts


@pytest.fixture
def ready(aws, clock):
    """GIVEN the newsletter form and welcome-leads (triggered by it; its runs stay running on moto)."""
    ContentStore().put("FORM", "newsletter", yaml.safe_load((ROOT / "content/forms/newsletter.yaml").read_text()))
    a_map("welcome-leads", {"form_submitted": {"form": "newsletter"}})


def form_post(**changes) -> str:
    """A person posts the newsletter form (events/form_post_json.json): the contact's id."""
    event = {**load_event("form_post_json.json"), **changes}
    assert public_api.lambda_handler(event, FakeLambdaContext())["statusCode"] == 202
    found = ContactStore().find_by_email(EMAIL)
    assert found is not None
    return found.id


def table() -> list[dict]:
    db, items, start = aws_clients.client("dynamodb"), [], None
    while True:
        page = db.scan(TableName="automaps-ContactsTable", **({"ExclusiveStartKey": start} if start else {}))
        items += [from_item(i) for i in page["Items"]]
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def everything_of(contact_id: str) -> list[dict]:
    """GIVEN the contact has every kind of item (beyond the form's profile, markers, history, enrollment)."""
    store = ContactStore()
    store.claim_phone(contact_id, PHONE)
    store.change_tags(contact_id, add=["vip"], effect=Effect(visit=uuid.uuid4().hex, kind="tags.changed"))
    store.add_note(contact_id, "called, will buy next week", "n-1")
    ListStore().add("list", "newsletter", contact_id)
    ListStore().add("fulfillment", "welcome-kit", contact_id, fields={"email": EMAIL, "city": "Lyon"})
    SegmentStore().enter("buyers", contact_id, "H#cause")
    CommerceStore().add_product(contact_id, Product(product_id="course", added_at=clock.now()),
                                lambda p: HistoryEntry(at=clock.now(), kind="product.added", detail={"product": "course"}))
    DateIndexStore().change(contact_id, "birthday", None, Indexed("birthday", "1990-05-04", "-"))
    assigned(store.require(contact_id))
    aws_clients.client("dynamodb").put_item(TableName="automaps-ContactsTable", Item={
        "pk": {"S": f"CONTACT#{contact_id}"}, "sk": {"S": "EFFECT#e_1#welcome-email#t#v#ses"}, "status": {"S": "done"}})
    return table()


def test_given_a_contact_with_every_kind_of_item_when_erased_then_nothing_of_them_is_left_but_the_audit(ready):
    contact_id = form_post()
    before = everything_of(contact_id)
    kinds = {str(i["sk"]).split("#")[0] for i in before if i["pk"] == f"CONTACT#{contact_id}"}
    assert {"PROFILE", "H", "ENROLL", "ENTRY", "NOTE", "NOTEID", "DONE", "EFFECT", "LIST", "FULFILL", "SEGMENT",
            "PRODUCT", "DATEIDX", "TASK"} <= kinds
    [enrollment] = ContactStore().enrollments(contact_id)
    assert SegmentStore().count("buyers") == 1

    # WHEN the admin erases them
    answer = call("DELETE", f"/contacts/{contact_id}")

    # THEN no item holds their id, address, phone or name, except the audit (which holds the id only)
    assert answer.status == 200, answer.text
    left = table()
    text = json.dumps(left, default=str)
    for personal in (EMAIL, PHONE, "Jane", "Lyon", "called, will buy"):
        assert personal.lower() not in text.lower(), personal
    holding_id = [i for i in left if contact_id in json.dumps(i, default=str)]
    assert [(i["pk"], i["sk"]) for i in holding_id] == [(f"ERASED#{contact_id}", "ERASED")]
    # AND the segment's count went down, its run was stopped
    assert SegmentStore().count("buyers") == 0
    run = aws_clients.client("stepfunctions").describe_execution(executionArn=enrollment.execution_arn)
    assert run["status"] == "ABORTED"
    # AND the audit says who and what, with counts, and no personal data
    audit = answer.json["audit"]
    assert (audit["by"], audit["at"], audit["suppression"]) == (CALLER, clock.iso(), "none")
    assert audit["counts"]["H"] >= 3 and audit["counts"]["PROFILE"] == 1 and audit["counts"]["SEGMENT"] == 1
    assert audit["executions_stopped"] == 1


def test_given_an_erased_contact_when_erased_again_then_the_first_audit_answers(ready, clock):
    contact_id = form_post()
    first = call("DELETE", f"/contacts/{contact_id}").json
    clock.advance(days=1)

    again = call("DELETE", f"/contacts/{contact_id}")

    assert again.status == 200
    assert again.json == {"erased": True, "already_erased": True, "audit": first["audit"]}


def test_given_a_bounced_address_when_its_contact_is_erased_then_only_its_hash_is_kept_and_still_suppresses(ready):
    contact_id = form_post()
    store = ContactStore()
    store.suppress_email(EMAIL, "bounced", at=clock.now(), message_id="m-1")

    answer = call("DELETE", f"/contacts/{contact_id}")

    assert answer.json["audit"]["suppression"] == "kept"
    suppressed = [i for i in table() if str(i["pk"]).startswith("SUPPRESSED#")]
    assert [i["pk"] for i in suppressed] == [f"SUPPRESSED#sha256:{suppression_hash(EMAIL)}"]
    assert store.email_suppression("Jane.Doe@Example.com").reason == "bounced"

    # WHEN the same person posts the form again afterwards
    new_id = form_post()

    # THEN a NEW contact is created (nothing of the old one came back), and the address stays suppressed
    assert new_id != contact_id
    kinds = [e.kind for e in store.history(new_id)]  # (one instant: the two entries' order is their keys')
    assert sorted(kinds[:2]) == ["contact.created", "form.submitted"] and "email.bounced" not in kinds
    assert store.email_suppression(EMAIL).reason == "bounced"


def test_given_an_unsubscribed_contact_when_erased_then_a_hash_keeps_them_from_being_emailed(ready):
    contact_id = form_post()
    ContactStore().set_unsubscribed(contact_id, "email")

    answer = call("DELETE", f"/contacts/{contact_id}")

    assert answer.json["audit"]["suppression"] == "added"
    assert ContactStore().email_suppression(EMAIL).reason == "unsubscribed"


def test_given_a_contact_who_never_objected_when_erased_then_nothing_of_the_address_is_kept(ready):
    contact_id = form_post()

    call("DELETE", f"/contacts/{contact_id}")

    assert ContactStore().email_suppression(EMAIL) is None
    assert not [i for i in table() if str(i["pk"]).startswith("SUPPRESSED#")]


def test_given_a_contact_who_asks_never_to_be_emailed_when_erased_with_suppress_then_the_hash_is_kept(ready):
    contact_id = form_post()

    answer = call("DELETE", f"/contacts/{contact_id}", query={"suppress": "true"})
    refused = call("DELETE", f"/contacts/{contact_id}", query={"suppress": "maybe"})

    assert answer.json["audit"]["suppression"] == "added"
    assert ContactStore().email_suppression(EMAIL) is not None
    assert (refused.status, refused.json["message"]) == (400, "suppress must be true or false")


def test_given_a_contact_found_by_address_when_erased_by_it_then_the_same_erasure(ready):
    contact_id = form_post()

    answer = call("DELETE", f"/contacts/{EMAIL}")

    assert answer.status == 200 and answer.json["audit"]["contact_id"] == contact_id
    assert ContactStore().get(contact_id) is None and ContactStore().find_by_email(EMAIL) is None


@pytest.mark.slow
def test_given_a_contact_handed_to_a_long_wait_schedule_when_erased_then_the_schedule_is_deleted_too(runtime):
    from tests.e2e.test_moves_journey import deploy, enroll, until

    # GIVEN a contact sitting in a 30-day wait handed to EventBridge Scheduler (no execution holds them)
    deploy(runtime, "long-wait-journey")
    contact_id = enroll("long-wait-journey", "month@example.com")
    until(runtime, START + timedelta(hours=1))
    scheduler = aws_clients.client("scheduler")
    assert len(scheduler.list_schedules()["Schedules"]) == 1

    # WHEN they are erased
    answer = call("DELETE", f"/contacts/{contact_id}")

    # THEN the schedule is gone, and the month passing brings nothing of them back
    assert answer.json["audit"]["schedules_deleted"] == 1
    assert scheduler.list_schedules()["Schedules"] == []
    assert runtime.run_until_settled(until=START + timedelta(days=40))
    assert [i for i in table() if contact_id in json.dumps(i, default=str)] == [
        {"pk": f"ERASED#{contact_id}", "sk": "ERASED", **answer.json["audit"]}]


def test_given_a_contact_known_only_by_phone_when_erased_then_its_phone_marker_goes_and_the_phone_finds_nobody(ready):
    created = ContactStore().create_contact({"first_name": "Ana"}, phone="+1 415 555 0199")
    assert created is not None

    answer = call("DELETE", "/contacts/+14155550199")

    assert answer.status == 200 and answer.json["audit"]["counts"]["PHONE_MARKER"] == 1
    assert ContactStore().find_by_phone("+14155550199") is None
    assert [i["pk"] for i in table()] == [f"ERASED#{created.id}"]
