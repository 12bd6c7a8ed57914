"""`automaps explain --stack-name` against the rehearsal stack (our template in moto's
CloudFormation): the contact, their enrollment and history are read from the stack's contacts
table and the map from its registry (``MapRecord.source``), with nothing set in the environment
but the stack's name."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from automaps.clock import FixedClock, using
from automaps_local.cli import main
from tests.conftest import ROOT

TUESDAY = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
pytestmark = pytest.mark.usefixtures("stack_environment_restored")


@pytest.fixture
def on_the_stack(rehearsal, monkeypatch):
    """GIVEN welcome-leads registered on the stack as pushed, and Jane (New York) in it since Monday
    09:00 there, at its two-days wait after the welcome email (written by the stores, into the stack's tables)."""
    from automaps import aws as aws_clients
    from automaps.maps.loader import load_map
    from automaps.store.contacts import ContactStore
    from automaps.store.content import ContentStore
    from automaps_local.push import map_record

    aws_clients.reset()
    monkeypatch.setenv("CONTACTS_TABLE", rehearsal.physical["ContactsTable"])
    record = map_record(load_map(ROOT / "maps" / "welcome-leads.yaml"), rehearsal.physical["WelcomeLeadsStateMachine"], "v1")
    ContentStore(rehearsal.physical["ContentTable"]).put("MAP", "welcome-leads", record.model_dump(mode="json"))
    with using(FixedClock(datetime(2026, 11, 23, 14, 0, tzinfo=UTC))):
        store = ContactStore()
        jane, _ = store.upsert_by_email("jane@example.com", {"first_name": "Jane", "timezone": "America/New_York"})
        store.create_enrollment(jane.id, "welcome-leads", "e_1", {"type": "form_submitted", "form": "newsletter"})
        store.record(jane.id, "email.sent", {"template": "welcome", "message_id": "m-1"}, map_id="welcome-leads",
                     step_id="welcome-email")
        store.record(jane.id, "step.done", {"action": "send_email", "template": "welcome", "message_id": "m-1",
                                            "enrollment_id": "e_1"}, map_id="welcome-leads", step_id="welcome-email")
    from automaps import aws

    aws.client("dynamodb").update_item(
        TableName=rehearsal.physical["ContactsTable"], Key={"pk": {"S": f"CONTACT#{jane.id}"},
                                                            "sk": {"S": "ENROLL#welcome-leads#e_1"}},
        UpdateExpression="SET #p = :p", ExpressionAttributeNames={"#p": "position"},
        ExpressionAttributeValues={":p": {"M": {
            "step": {"S": "two-days-later"}, "state": {"S": "two-days-later"}, "kind": {"S": "wait"},
            "since": {"S": "2026-11-23T14:00:00Z"}, "until": {"S": "2026-11-25T14:00:00Z"}}}})
    monkeypatch.delenv("CONTACTS_TABLE")
    aws_clients.reset()
    return jane.id


def test_given_a_contact_on_the_stack_when_explain_runs_with_its_name_then_it_reads_the_stack(
        rehearsal, on_the_stack, capsys):
    with using(FixedClock(TUESDAY)):
        code = main(["explain", "jane@example.com", "--stack-name", rehearsal.name, "--json"])
    body = json.loads(capsys.readouterr().out)

    assert code == 0
    assert body["contact_id"] == on_the_stack
    [journey] = body["maps"][0]["journeys"]
    assert journey["now"] == "waiting at two-days-later until 2026-11-25 09:00 America/New_York"
    assert journey["next"].startswith("then engaged decides: if opened email 'welcome-email'")
    assert [e["text"] for e in journey["events"]] == ["welcome-email: email sent (template welcome)"]


def test_given_the_stack_when_asked_why_not_the_sms_then_it_is_still_waiting_and_unknowns_exit_2(
        rehearsal, on_the_stack, capsys):
    with using(FixedClock(TUESDAY)):
        code = main(["explain", on_the_stack, "--why-not", "thank-you-sms", "--stack-name", rehearsal.name])
    out = capsys.readouterr().out

    assert code == 0
    assert "Why not welcome-leads / thank-you-sms? (waiting)" in out
    assert "not there yet: waiting at two-days-later until 2026-11-25 09:00 America/New_York" in out
    assert main(["explain", "someone@example.com", "--stack-name", rehearsal.name]) == 2
    assert "no contact has the email, phone number or id 's***@example.com'" in capsys.readouterr().err


def test_given_no_tables_or_an_unknown_stack_then_explain_says_what_to_give_without_a_traceback(rehearsal, capsys):
    assert main(["explain", "jane@example.com"]) == 2
    assert "error: no tables to read: give --stack-name <stack>" in capsys.readouterr().err
    assert main(["explain", "jane@example.com", "--stack-name", "no-such-stack"]) == 1
    assert "error: reading stack no-such-stack failed:" in capsys.readouterr().err
