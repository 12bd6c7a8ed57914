"""The contacts admin API (functions/contacts_api, automaps.api.contacts) called as API Gateway
calls it behind IAM auth (events/contacts_api_search.json): search, read with the timeline,
explain, enroll and remove by hand, export pages and the data export; bad input is a 400 naming
what, never a 5xx."""

from __future__ import annotations

import csv
import io
import json

import pytest

from automaps.store.contacts import ContactStore
from automaps.store.lists import ListStore
from automaps.store.segments import SegmentStore
from tests.admin.givens import assigned
from tests.contacts.calls import CALLER, call
from tests.triggers.routing import a_map


@pytest.fixture
def ready(aws, clock):
    """GIVEN the stack is up, a map welcome-leads deployed (on moto: its runs stay running) and
    the clock stands still."""
    a_map("welcome-leads", {"form_submitted": {"form": "newsletter"}})
    return aws


def jane(**fields):
    contact, _ = ContactStore().upsert_by_email("jane.doe@example.com", {"first_name": "Jane", **fields}, ["vip"])
    return contact


def test_given_contacts_when_searched_by_email_phone_tag_list_and_segment_then_each_finds_them(ready):
    store = ContactStore()
    a = jane(phone="+14155550123")
    store.claim_phone(a.id, "+14155550123")
    b, _ = store.upsert_by_email("john@example.com", {"first_name": "John"}, ["lead"])
    ListStore().add("list", "newsletter", b.id)
    SegmentStore().enter("buyers", a.id, "H#cause")

    queries = [("email", "JANE.DOE@example.com"), ("phone", "+1 415 555 0123"), ("tag", "lead"),
               ("list", "newsletter"), ("segment", "buyers")]

    found = {q: [c["id"] for c in call("GET", "/contacts", query=dict([q])).json["contacts"]] for q in queries}

    assert found == dict(zip(queries, [[a.id], [a.id], [b.id], [b.id], [a.id]], strict=True))
    # AND the admin sees the address (the logs never do)
    first = call("GET", "/contacts", query={"email": "jane.doe@example.com"}).json["contacts"][0]
    assert (first["email"], first["phone"], first["tags"]) == ("jane.doe@example.com", "+14155550123", ["vip"])


def test_given_many_members_when_searched_with_a_limit_then_the_cursor_pages_through_all(ready):
    ids = set()
    for i in range(7):
        contact, _ = ContactStore().upsert_by_email(f"m{i}@example.com", {})
        ListStore().add("list", "big", contact.id)
        ids.add(contact.id)

    seen, cursor = [], None
    while True:
        answer = call("GET", "/contacts", query={"list": "big", "limit": "3", **({"next": cursor} if cursor else {})})
        seen += [c["id"] for c in answer.json["contacts"]]
        cursor = answer.json.get("next")
        if not cursor:
            break
    assert sorted(seen) == sorted(ids)


@pytest.mark.parametrize(("query", "message"), [
    ({}, "pass exactly one of"),
    ({"email": "a@example.com", "tag": "x"}, "pass exactly one of"),
    ({"email": "not-an-address"}, "email: not an email address"),
    ({"phone": "12"}, "phone: not a phone number"),
    ({"list": "x", "limit": "0"}, "limit must be a whole number from 1 to 500"),
    ({"list": "x", "next": "garbage!"}, "the 'next' cursor is not one this API gave out"),
])
def test_given_a_bad_search_then_400_names_it(ready, query, message):
    answer = call("GET", "/contacts", query=query)
    assert answer.status == 400 and message in answer.json["message"]


def test_given_a_contact_with_a_history_when_read_then_profile_memberships_enrollments_and_newest_first(ready, clock):
    contact = jane()
    store = ContactStore()
    for n in range(4):
        clock.advance(minutes=1)
        store.record(contact.id, "page.visited", {"url": f"https://example.com/{n}"})
    ListStore().add("list", "newsletter", contact.id)
    assigned(contact)
    call("POST", f"/contacts/{contact.id}/enrollments", body=json.dumps({"map": "welcome-leads"}))

    answer = call("GET", f"/contacts/{contact.id}", query={"limit": "3"})

    assert answer.status == 200
    body = answer.json
    assert body["contact"]["email"] == "jane.doe@example.com" and body["lists"] == ["newsletter"]
    assert [t["title"] for t in body["tasks"]] == ["Call Jane"]
    [enrolled] = body["enrollments"]
    assert (enrolled["map_id"], enrolled["status"]) == ("welcome-leads", "active")
    times = [e["at"] for e in body["timeline"]]
    assert times == sorted(times, reverse=True) and len(times) == 3
    rest = call("GET", f"/contacts/{contact.id}", query={"limit": "100", "next": body["next"]}).json["timeline"]
    assert [e["kind"] for e in rest][-1] == "contact.created"
    # AND the contact is found by its address in the path too
    assert call("GET", "/contacts/jane.doe@example.com").json["contact"]["id"] == contact.id


def test_given_no_such_contact_then_404(ready):
    for method, path in [("GET", "/contacts/c_nobody"), ("GET", "/contacts/c_nobody/data"),
                         ("GET", "/contacts/nobody@example.com/explain"), ("DELETE", "/contacts/c_nobody"),
                         ("DELETE", "/contacts/c_nobody/enrollments/welcome-leads")]:
        assert call(method, path).status == 404, path


def test_given_a_contact_when_enrolled_by_hand_then_once_through_the_queue_even_when_sent_twice(ready):
    contact = jane()
    body = json.dumps({"map": "welcome-leads"})

    first = call("POST", f"/contacts/{contact.id}/enrollments", body=body, headers={"Idempotency-Key": "k-1"})
    again = call("POST", f"/contacts/{contact.id}/enrollments", body=body, headers={"Idempotency-Key": "k-1"})

    assert first.status == again.status == 202 and first.json == again.json
    enrollments = ContactStore().enrollments(contact.id, "welcome-leads")
    assert [e.enrollment_id for e in enrollments] == [first.json["enrollment_id"]]
    assert enrollments[0].event == {"type": "added_by_admin", "by": CALLER}
    assert enrollments[0].execution_arn


@pytest.mark.parametrize(("body", "status", "message"), [
    ("not json", 400, 'the body must be JSON {"map": "<map id>"}'),
    ('{"map": 3}', 400, 'the body must be JSON {"map": "<map id>"}'),
    ('{"map": "nowhere"}', 404, "no map 'nowhere' is deployed"),
])
def test_given_a_bad_enrollment_request_then_it_is_refused_naming_why(ready, body, status, message):
    contact = jane()
    answer = call("POST", f"/contacts/{contact.id}/enrollments", body=body)
    assert (answer.status, answer.json["message"]) == (status, message)


def test_given_an_enrolled_contact_when_removed_by_hand_then_their_run_stops_and_the_history_says_who(ready):
    contact = jane()
    call("POST", f"/contacts/{contact.id}/enrollments", body=json.dumps({"map": "welcome-leads"}))
    [enrollment] = ContactStore().enrollments(contact.id, "welcome-leads")

    answer = call("DELETE", f"/contacts/{contact.id}/enrollments/welcome-leads")

    assert answer.status == 200 and answer.json["removed"] is True
    [after] = ContactStore().enrollments(contact.id, "welcome-leads")
    assert (after.status, after.exit_reason) == ("exited", "removed")
    kinds = {e.kind: e for e in ContactStore().history(contact.id)}
    assert kinds["automation.removed"].detail == {"map": "welcome-leads", "by": CALLER,
                                                  "enrollment": enrollment.enrollment_id}
    assert kinds["map.exited"].detail["reason"] == "removed"
    from automaps import aws

    run = aws.client("stepfunctions").describe_execution(executionArn=enrollment.execution_arn)
    assert run["status"] == "ABORTED"
    # AND removing again is fine
    assert call("DELETE", f"/contacts/{contact.id}/enrollments/welcome-leads").json["removed"] is False


def test_given_contacts_when_exported_as_csv_pages_then_the_pages_make_one_file(ready):
    for i in range(5):
        contact, _ = ContactStore().upsert_by_email(f"p{i}@example.com", {"first_name": f"P{i}"}, ["vip"])
        ListStore().add("list", "export", contact.id)

    text, cursor = "", None
    while True:
        answer = call("GET", "/contacts/export", query={"list": "export", "limit": "2", **({"next": cursor} if cursor else {})})
        assert answer.status == 200 and answer.headers["Content-Type"].startswith("text/csv")
        text += answer.text
        cursor = answer.headers.get("Automaps-Next")
        if not cursor:
            break

    rows = list(csv.DictReader(io.StringIO(text)))
    assert sorted(r["email"] for r in rows) == [f"p{i}@example.com" for i in range(5)]
    assert json.loads(rows[0]["fields"])["first_name"].startswith("P") and rows[0]["tags"] == "vip"


def test_given_tagged_contacts_when_exported_as_jsonl_by_tag_then_one_json_object_a_line(ready):
    jane()
    ContactStore().upsert_by_email("untagged@example.com", {})

    answer = call("GET", "/contacts/export", query={"format": "jsonl", "tag": "vip"})

    assert answer.headers["Content-Type"] == "application/x-ndjson"
    assert [json.loads(line)["email"] for line in answer.text.splitlines()] == ["jane.doe@example.com"]
    assert call("GET", "/contacts/export", query={"format": "xml"}).status == 400


def test_given_a_contact_when_their_data_is_requested_then_every_item_is_in_the_json(ready):
    contact = jane()
    ContactStore().add_note(contact.id, "called back", "n-1")

    answer = call("GET", f"/contacts/{contact.id}/data")

    assert answer.status == 200
    body = answer.json
    sort_keys = {item["sk"].split("#")[0] for item in body["items"]}
    assert {"PROFILE", "H", "NOTE", "NOTEID"} <= sort_keys
    assert body["markers"] == [{"pk": "EMAIL#jane.doe@example.com", "sk": "EMAIL", "contact_id": contact.id}]


def test_given_a_contact_when_explained_then_text_and_the_structured_answer(ready):
    contact = jane()

    answer = call("GET", f"/contacts/{contact.id}/explain")
    unknown = call("GET", f"/contacts/{contact.id}/explain", query={"why_not": "no-such-step"})

    assert answer.status == 200 and isinstance(answer.json["text"], str) and answer.json["text"]
    # (without ?map= the step's map is the one deployed map holding it; no map holds this one)
    assert unknown.status == 400 and "no-such-step" in unknown.json["message"]


def test_given_an_unknown_map_or_step_when_asked_why_not_then_404_or_400_not_a_failure(ready):
    contact = jane()

    unknown_map = call("GET", f"/contacts/{contact.id}/explain", query={"why_not": "x", "map": "nowhere"})

    assert unknown_map.status in (400, 404) and unknown_map.json["message"]


@pytest.mark.parametrize(("method", "path", "query", "body", "headers"), [
    ("GET", "/contacts", {"segment": "x", "next": "eyJhIjogMX0"}, None, None),  # base64 JSON, not a cursor
    ("GET", "/contacts", {"tag": "vip", "next": "%%%"}, None, None),
    ("GET", "/contacts/export", {"list": "x", "limit": "abc"}, None, None),
    ("GET", "/contacts/export", {"tag": "a", "list": "b"}, None, None),
    ("GET", "/contacts/jane.doe@example.com", {"limit": "-1"}, None, None),
    ("POST", "/contacts/import", None, "\x00\x01,\x02\n\x03", None),
    ("POST", "/contacts/import", {"first_row": "two"}, "email\na@example.com\n", None),
    ("POST", "/contacts/import", None, "_row,email\nx,a@example.com\n", None),
    ("POST", "/contacts/jane.doe@example.com/enrollments", None, '{"map": "welcome-leads"}',
     {"Idempotency-Key": "k" * 300}),
    ("DELETE", "/contacts/jane.doe@example.com", {"suppress": "1"}, None, None),
])
def test_given_odd_input_on_any_route_then_a_4xx_naming_it_never_a_5xx_and_nothing_changes(
        ready, method, path, query, body, headers):
    contact = jane()

    answer = call(method, path, query=query, body=body, headers=headers)

    assert 400 <= answer.status < 500 and answer.json["message"], answer.text
    assert ContactStore().require(contact.id).version == contact.version
    assert ContactStore().enrollments(contact.id) == []
