"""Fulfillment lists exported through the admin API: proper CSV with a header row, safe to open
in a spreadsheet (no formula injection), or JSON."""

from __future__ import annotations

import csv
import io
import json

import pytest

from automaps.store.lists import safe_cell, to_csv
from functions.admin_api import app
from functions.send_to_fulfillment import app as fulfil_app
from tests.actions.sending import a_contact, task_event
from tests.conftest import load_event


@pytest.fixture
def ready(aws, clock):
    """GIVEN the stack is up and the clock stands still."""


def export(lambda_context, name: str = "welcome-kit", **query: str) -> dict:
    event = load_event("admin_export_fulfillment.json")
    query = {**event["queryStringParameters"], **query}
    event = {**event, "path": f"/fulfillment/{name}", "pathParameters": {"name": name},
             "queryStringParameters": query, "multiValueQueryStringParameters": {k: [v] for k, v in query.items()}}
    return app.lambda_handler(event, lambda_context)


def sent_to_fulfillment(contact, lambda_context, **settings) -> None:
    event = task_event("send_to_fulfillment.json", contact, execution_id=f"x-{contact.id}")
    if settings:
        event["settings"] = {**event["settings"], **settings}
    assert fulfil_app.lambda_handler(event, lambda_context)["outcome"] == "done"


def header_of(response: dict, name: str) -> str:
    """A header of the proxy response (Powertools answers REST APIs with multiValueHeaders)."""
    headers = {**{k: v[-1] for k, v in (response.get("multiValueHeaders") or {}).items()},
               **(response.get("headers") or {})}
    return headers[name]


def rows(response: dict) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response["body"], newline="")))


def test_given_two_members_when_exported_then_the_csv_has_a_header_and_one_row_each(ready, lambda_context):
    jane = a_contact(first_name="Jane", last_name="Doe", address="1 Main St, Apt 2", city="Springfield", country="US")
    john = a_contact("john@example.com", first_name="John", last_name='O"Neil', address="Line 1\nLine 2")
    for contact in (jane, john):
        sent_to_fulfillment(contact, lambda_context)

    response = export(lambda_context)

    assert response["statusCode"] == 200
    assert header_of(response, "Content-Type") == "text/csv; charset=utf-8"
    assert header_of(response, "Content-Disposition") == 'attachment; filename="welcome-kit.csv"'
    header, *body = rows(response)
    assert header == ["contact_id", "added_at", "first_name", "last_name", "address", "city", "country"]
    assert sorted(body) == sorted([
        [jane.id, "2026-11-02T08:00:00Z", "Jane", "Doe", "1 Main St, Apt 2", "Springfield", "US"],
        [john.id, "2026-11-02T08:00:00Z", "John", 'O"Neil', "Line 1\nLine 2", "", ""],
    ])


def test_given_contact_data_that_looks_like_formulas_when_exported_then_every_such_cell_is_quoted(
        ready, lambda_context):
    evil = a_contact(first_name="=HYPERLINK(\"http://evil.example\",\"click\")", last_name="+1+2",
                     address="-2+3", city="@SUM(A1:A9)")
    sent_to_fulfillment(evil, lambda_context)

    [_, row] = rows(export(lambda_context))

    assert row[2:6] == ["'=HYPERLINK(\"http://evil.example\",\"click\")", "'+1+2", "'-2+3", "'@SUM(A1:A9)"]


def test_given_an_empty_or_unknown_list_then_the_csv_is_the_header_alone(ready, lambda_context):
    assert rows(export(lambda_context, "nobody-here")) == [["contact_id", "added_at"]]


def test_given_format_json_then_members_and_their_snapshots_come_as_json(ready, lambda_context):
    jane = a_contact(first_name="Jane", city="Springfield")
    sent_to_fulfillment(jane, lambda_context, fields=["first_name", "city"])

    response = export(lambda_context, format="json")

    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"list": "welcome-kit", "members": [
        {"contact_id": jane.id, "added_at": "2026-11-02T08:00:00Z", "fields": {"first_name": "Jane", "city": "Springfield"}}]}


@pytest.mark.parametrize(("name", "query", "message"), [
    ("welcome-kit", {"format": "xlsx"}, "format must be csv or json"),
    ("bad name!", {}, "is not allowed"),
])
def test_given_a_bad_export_request_then_400_says_what_to_fix(ready, lambda_context, name, query, message):
    response = export(lambda_context, name, **query)

    assert response["statusCode"] == 400 and message in json.loads(response["body"])["message"]


@pytest.mark.parametrize(("value", "cell"), [
    (None, ""), (52, "52"), (-5, "'-5"), (True, "true"), (["a", "b"], '["a", "b"]'), ("\tx", "'\tx"),
    ("\rx", "'\rx"), ("plain", "plain"), ("a=b", "a=b"),
])
def test_given_cell_values_then_they_become_safe_text(value, cell):
    assert safe_cell(value) == cell


def test_given_members_with_different_fields_then_columns_are_the_union_in_first_seen_order():
    members = [{"contact_id": "c1", "added_at": "t", "fields": {"b": 1}},
               {"contact_id": "c2", "added_at": "t", "fields": {"a": 2, "b": 3}}]

    assert to_csv(members) == "contact_id,added_at,b,a\r\nc1,t,1,\r\nc2,t,3,2\r\n"
