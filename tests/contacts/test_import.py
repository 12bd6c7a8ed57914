"""`POST /contacts/import` (admin API): a CSV with a header row, validated row by row (row
numbers count the file's lines, the header is row 1), deduplicated by email, else phone, within
the file and against the stored contacts (an upsert), with a report; the same body again answers
the same report and writes nothing more. Fixtures: tests/contacts/fixtures/*.csv."""

from __future__ import annotations

import pytest

from automaps.store.contacts import ContactStore
from automaps.store.directory import Directory
from tests.contacts.calls import call, fixture


@pytest.fixture
def ready(aws, clock):
    """GIVEN the stack is up and the clock stands still."""


def profiles() -> list:
    found, cursor = Directory().scan_profiles(None, None)
    while cursor:
        more, cursor = Directory().scan_profiles(None, cursor)
        found += more
    return found


def test_given_a_csv_with_good_bad_and_repeated_rows_when_imported_then_the_report_names_each_bad_row(ready):
    # WHEN the fixture (8 data rows) is imported
    answer = call("POST", "/contacts/import", body=fixture("contacts.csv"), headers={"Content-Type": "text/csv"})

    # THEN three contacts were created, one row was the same email as row 2 (any case), and each
    # bad row is named with its field and reason
    assert answer.status == 200, answer.text
    report = answer.json
    assert (report["rows"], report["created"], report["updated"], report["unchanged"]) == (8, 3, 0, 0)
    assert report["duplicates"] == [{"row": 5, "of_row": 2, "reason": "same email as row 2"}]
    assert [(e["row"], e["field"]) for e in report["errors"]] == [(6, "email"), (7, "phone"), (8, "phone"), (9, "email")]
    assert "neither an email address nor a phone number" in report["errors"][-1]["error"]
    assert report["skipped"] == 5
    # AND the phone was normalised to E.164, the tags split, the phone-only row found by its phone
    store = ContactStore()
    jane = store.find_by_email("jane.doe@example.com")
    assert jane is not None and jane.fields["phone"] == "+14155550123" and jane.tags == {"vip", "lead"}
    assert jane.fields["first_name"] == "Jane"  # (not row 5's Janet: a repeat in the file is not applied)
    assert store.find_by_phone("+14155550123").id == jane.id
    assert store.find_by_phone("+1 415 555 0199").fields["first_name"] == "Ana"
    # AND a bad row wrote nothing at all (kim's email is not half-imported without the phone)
    assert store.find_by_email("kim@example.com") is None
    assert len(profiles()) == 3


def test_given_an_import_when_the_same_body_is_sent_again_then_the_same_report_comes_back_and_nothing_changes(ready):
    body = fixture("contacts.csv")
    first = call("POST", "/contacts/import", body=body).json
    before = {c.id: c.version for c in profiles()}

    again = call("POST", "/contacts/import", body=body)

    assert again.status == 200
    assert {k: v for k, v in again.json.items() if k != "replayed"} == first and again.json["replayed"] is True
    assert {c.id: c.version for c in profiles()} == before


def test_given_stored_contacts_when_a_file_names_them_then_they_are_updated_not_duplicated(ready):
    # GIVEN Jane exists (tagged customer), created by a form
    jane, _ = ContactStore().upsert_by_email("jane.doe@example.com", {"first_name": "Jane", "city": "Lyon"}, ["customer"])

    # WHEN a file with her (other case, a new plan) and someone unchanged is imported twice over
    body = "email,plan,tags\nJANE.DOE@example.com,gold,vip\n"
    answer = call("POST", "/contacts/import", body=body).json
    unchanged = call("POST", "/contacts/import", query={"first_row": "2", "region": "US"}, body=body).json

    # THEN she was updated in place: her fields merged, tags added, one contact
    assert (answer["created"], answer["updated"]) == (0, 1)
    assert unchanged["unchanged"] == 1 and unchanged["updated"] == 0
    after = ContactStore().require(jane.id)
    assert after.fields == {"email": "jane.doe@example.com", "first_name": "Jane", "city": "Lyon", "plan": "gold"}
    assert after.tags == {"customer", "vip"}
    assert [c.id for c in profiles()] == [jane.id]


def test_given_a_dry_run_then_rows_are_checked_and_nothing_is_written(ready):
    answer = call("POST", "/contacts/import", query={"dry_run": "true"}, body=fixture("contacts.csv")).json

    assert answer["dry_run"] is True and answer["valid"] == 3 and len(answer["errors"]) == 4
    assert profiles() == []


@pytest.mark.parametrize(("body", "message"), [
    ("", "the body must be CSV with a header row"),
    (fixture("bad_header.csv"), "row 1 (the header): column 'e-mail' is not a field name"),
    ("first_name,plan\nJane,gold\n", "row 1 (the header): the CSV needs an email or a phone column"),
    ("email,email\na@example.com,b@example.com\n", "row 1 (the header): a column is named twice"),
])
def test_given_a_file_that_is_not_an_import_then_400_names_the_problem_and_nothing_is_written(ready, body, message):
    answer = call("POST", "/contacts/import", body=body)

    assert answer.status == 400 and answer.json["message"].startswith(message)
    assert profiles() == []


def test_given_a_bad_cell_then_its_row_and_field_are_named(ready):
    body = 'email,note,fields\nok@example.com,"two\nlines",\nf@example.com,,"{""plan"": [1]}"\n'

    report = call("POST", "/contacts/import", query={"first_row": "501"}, body=body).json

    assert [(e["row"], e["field"]) for e in report["errors"]] == [(501, "note"), (502, "fields")]
    assert report["created"] == 0


def test_given_2000_rows_in_chunks_of_500_when_imported_then_2000_contacts_and_a_retry_creates_none(ready):
    lines = [f"person{i}@example.com,Person {i},{'vip' if i % 2 else ''}" for i in range(2000)]
    header = "email,first_name,tags"
    reports = []
    for start in range(0, 2000, 500):
        body = "\n".join([header, *lines[start:start + 500]]) + "\n"
        reports.append(call("POST", "/contacts/import", query={"first_row": str(start + 2)}, body=body).json)

    assert sum(r["created"] for r in reports) == 2000 and not any(r["errors"] for r in reports)
    assert len(profiles()) == 2000
    # AND a chunk sent again (a retry after a lost answer) answers its report again
    body = "\n".join([header, *lines[500:1000]]) + "\n"
    assert call("POST", "/contacts/import", query={"first_row": "502"}, body=body).json["replayed"] is True
    assert len(profiles()) == 2000


def test_given_more_rows_than_one_request_takes_then_413_and_nothing_is_written(ready):
    body = "email\n" + "".join(f"x{i}@example.com\n" for i in range(1001))

    answer = call("POST", "/contacts/import", body=body)

    assert answer.status == 413 and "at most 1000 rows per request" in answer.json["message"]
    assert profiles() == []
