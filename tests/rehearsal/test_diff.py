"""`automaps diff --stack-name` against the rehearsal stack (our template in moto's
CloudFormation): the old side is the map the stack's registry holds, the contacts are counted
in the stack's contacts table."""

from __future__ import annotations

import json

import boto3
import pytest

from automaps_local.cli import main
from tests.conftest import ROOT


pytestmark = pytest.mark.usefixtures("stack_environment_restored")


def test_given_the_rehearsal_stack_with_welcome_leads_registered_and_contacts_inside_when_diff_runs_then_it_reads_them(
        rehearsal, tmp_path, capsys):
    from automaps import aws as aws_clients
    from automaps.maps.loader import load_map
    from automaps.store.content import ContentStore, to_item
    from automaps_local.push import map_record

    # GIVEN welcome-leads registered on the stack as pushed, and two contacts on its two-days wait
    aws_clients.reset()
    machine = rehearsal.physical["WelcomeLeadsStateMachine"]
    record = map_record(load_map(ROOT / "maps" / "welcome-leads.yaml"), machine, "v1")
    ContentStore(rehearsal.physical["ContentTable"]).put("MAP", "welcome-leads", record.model_dump(mode="json"))
    for contact in ("ann", "bob"):
        boto3.client("dynamodb").put_item(TableName=rehearsal.physical["ContactsTable"], Item=to_item({
            "pk": f"CONTACT#{contact}", "sk": f"ENROLL#welcome-leads#e-{contact}", "status": "active",
            "position": {"step": "two-days-later", "state": "two-days-later wait", "since": "2026-11-23T14:00:00Z"}}))
    edited = tmp_path / "welcome-leads.yaml"
    edited.write_text((ROOT / "maps" / "welcome-leads.yaml").read_text().replace("days: 2, at", "days: 3, at"))

    # WHEN diff runs with the stack's name
    code = main(["diff", str(edited), "--stack-name", rehearsal.name, "--json"])
    body = json.loads(capsys.readouterr().out)
    aws_clients.reset()

    # THEN it compared with the registered map and counted the stack's contacts
    assert code == 0
    assert body["against"] == f"stack {rehearsal.name}"
    assert [(s["step"], s["contacts"], [c["text"] for c in s["changes"]]) for s in body["changed"]] == [
        ("two-days-later", 2, ["timing wait.days: 2 -> 3"])]
    assert body["contacts"]["counted_on"] == f"stack {rehearsal.name}" and body["contacts"]["total"] == 2
