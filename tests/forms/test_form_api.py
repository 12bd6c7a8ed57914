"""The public form API: what a browser or a script posting a form gets, and what is stored."""

from __future__ import annotations

import json
import threading

import pytest
import yaml
from automaps import aws as aws_clients
from automaps.store.contacts import ContactStore
from automaps.store.content import ContentStore
from automaps.journeys.enrollment import EntryRule, MapRecord, Trigger, register

from functions.public_api import app
from tests.conftest import ROOT, load_event
from tests.forms.intake import deliver_enrollments

PASS_MACHINE = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}


@pytest.fixture
def deployed(aws):
    """GIVEN the newsletter form and a map triggered by it are deployed."""
    form = yaml.safe_load((ROOT / "content/forms/newsletter.yaml").read_text())
    ContentStore().put("FORM", "newsletter", form)
    arn = aws_clients.client("stepfunctions").create_state_machine(
        name="automaps-welcome-leads", definition=json.dumps(PASS_MACHINE),
        roleArn="arn:aws:iam::123456789012:role/automaps")["stateMachineArn"]
    register(MapRecord(id="welcome-leads", state_machine_arn=arn, version="v1",
                       triggers=[Trigger(type="form_submitted", key="newsletter")]))
    return arn


def post(event_file: str, lambda_context, **changes) -> dict:
    event = load_event(event_file)
    event.update(changes)
    return app.lambda_handler(event, lambda_context)


def header(response: dict, name: str) -> str:
    """API Gateway accepts headers or multiValueHeaders; Powertools answers in the request's style."""
    single = response.get("headers") or {}
    return single.get(name) or response["multiValueHeaders"][name][0]


def executions(arn: str) -> list[dict]:
    return aws_clients.client("stepfunctions").list_executions(stateMachineArn=arn)["executions"]


def item_count() -> int:
    return aws_clients.client("dynamodb").scan(TableName="automaps-ContactsTable", Select="COUNT")["Count"]


def test_given_a_json_post_when_it_is_valid_then_the_contact_is_stored_and_enrolled(deployed, lambda_context):
    response = post("form_post_json.json", lambda_context)
    deliver_enrollments(lambda_context)

    assert response["statusCode"] == 202
    assert json.loads(response["body"])["status"] == "accepted"
    assert json.loads(response["body"])["enrollments"] == [{"map_id": "welcome-leads", "outcome": "queued"}]
    contact = ContactStore().find_by_email("jane.doe@example.com")
    assert contact.fields["first_name"] == "Jane"
    assert contact.fields["age"] == 52
    assert contact.fields["timezone"] == "America/New_York"
    assert "newsletter" in contact.tags
    kinds = [h.kind for h in ContactStore().history(contact.id)]
    assert "form.submitted" in kinds and "map.enrolled" in kinds
    (execution,) = executions(deployed)
    described = aws_clients.client("stepfunctions").describe_execution(executionArn=execution["executionArn"])
    payload = json.loads(described["input"])
    assert set(payload) == {"contact_id", "enrollment_id", "map_id"}  # identifiers only
    assert payload["contact_id"] == contact.id


def test_given_a_submission_when_it_is_posted_again_then_the_contact_is_enrolled_once(deployed, lambda_context):
    post("form_post_json.json", lambda_context)
    again = post("form_post_json.json", lambda_context)   # a double click: the same submission
    deliver_enrollments(lambda_context)

    assert again["statusCode"] == 202
    assert len(executions(deployed)) == 1
    contact = ContactStore().find_by_email("jane.doe@example.com")
    assert [h.kind for h in ContactStore().history(contact.id)].count("map.enrolled") == 1


def test_given_an_html_form_post_when_it_is_valid_then_the_browser_is_sent_to_the_thank_you_page(
        deployed, lambda_context):
    response = post("form_post_urlencoded.json", lambda_context)

    assert response["statusCode"] == 303
    assert header(response, "Location") == "https://example.com/thanks"
    assert ContactStore().find_by_email("sam@example.org").fields["age"] == 38


def test_given_a_malformed_post_when_it_arrives_then_it_gets_400_naming_the_problem_and_stores_nothing(
        deployed, lambda_context):
    before = item_count()
    response = post("form_post_malformed.json", lambda_context)

    assert response["statusCode"] == 400
    assert "not valid JSON" in json.loads(response["body"])["errors"][0]["error"]
    assert item_count() == before


def test_given_invalid_fields_when_posted_then_each_bad_field_is_named_and_nothing_is_stored(
        deployed, lambda_context):
    before = item_count()
    body = json.dumps({"email": "not-an-address", "age": "old", "timezone": "Mars/Olympus"})
    response = post("form_post_json.json", lambda_context, body=body)

    assert response["statusCode"] == 400
    errors = {e["field"]: e["error"] for e in json.loads(response["body"])["errors"]}
    assert set(errors) == {"email", "age", "timezone"}
    assert "IANA timezone" in errors["timezone"]
    assert item_count() == before
    assert executions(deployed) == []


def test_given_a_missing_required_field_when_posted_then_it_is_named(deployed, lambda_context):
    response = post("form_post_json.json", lambda_context, body=json.dumps({"first_name": "No Email"}))

    assert response["statusCode"] == 400
    assert json.loads(response["body"])["errors"] == [{"field": "email", "error": "is required"}]


def test_given_a_bot_fills_the_honeypot_when_it_posts_then_it_looks_accepted_but_nothing_is_stored(
        deployed, lambda_context):
    before = item_count()
    response = post("form_post_honeypot.json", lambda_context)

    assert response["statusCode"] == 202
    assert item_count() == before
    assert executions(deployed) == []


def test_given_an_unknown_form_when_posted_then_404_names_it(deployed, lambda_context):
    response = post("form_post_json.json", lambda_context, path="/forms/nope", pathParameters={"form_id": "nope"})

    assert response["statusCode"] == 404
    assert "'nope'" in json.loads(response["body"])["message"]


def test_given_twenty_concurrent_posts_with_one_email_then_there_is_exactly_one_contact(deployed, lambda_context):
    bodies = [json.dumps({"email": "Rush@Example.com", "first_name": f"R{i}"}) for i in range(20)]
    responses: list[dict] = []

    def send(body: str) -> None:
        responses.append(post("form_post_json.json", lambda_context, body=body))

    threads = [threading.Thread(target=send, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(r["statusCode"] for r in responses) == [202] * 20
    markers = aws_clients.client("dynamodb").scan(
        TableName="automaps-ContactsTable", FilterExpression="begins_with(pk, :p) AND sk = :s",
        ExpressionAttributeValues={":p": {"S": "CONTACT#"}, ":s": {"S": "PROFILE"}})["Items"]
    assert len(markers) == 1


@pytest.mark.parametrize("reenter, min_interval, expected", [
    ("never", 0, ["enrolled", "skipped", "skipped"]),
    ("after_exit", 0, ["enrolled", "skipped", "enrolled"]),
    ("always", 0, ["enrolled", "enrolled", "enrolled"]),
    ("always", 3600, ["enrolled", "skipped", "skipped"]),
])
def test_given_an_entry_rule_when_the_contact_submits_three_times_then_the_rule_decides(
        aws, clock, reenter, min_interval, expected):
    from automaps.journeys.enrollment import enroll, release

    arn = aws_clients.client("stepfunctions").create_state_machine(
        name="automaps-m", definition=json.dumps(PASS_MACHINE), roleArn="arn:aws:iam::123456789012:role/x")[
        "stateMachineArn"]
    record = MapRecord(id="m", state_machine_arn=arn, version="v1", triggers=[],
                       entry=EntryRule(reenter=reenter, min_interval_seconds=min_interval))
    contact, _ = ContactStore().upsert_by_email("rule@example.com", {})

    first = enroll(record, contact.id, {"type": "test"}, "s1")
    second = enroll(record, contact.id, {"type": "test"}, "s2")   # while the first is still inside
    release(contact.id, "m", first.enrollment_id)                   # the first run exits
    clock.advance(minutes=30)
    third = enroll(record, contact.id, {"type": "test"}, "s3")

    assert [first.outcome, second.outcome, third.outcome] == expected
    skipped = [r for r in (second, third) if r.outcome == "skipped"]
    assert all(r.reason for r in skipped)
    assert [h.kind for h in ContactStore().history(contact.id)].count("map.enroll_skipped") == len(skipped)
