"""`automaps publish --stack-name` against the rehearsal stack (our template in moto's
CloudFormation, its machines' versions and aliases as `sam deploy` leaves them), after `automaps
push`. (`automaps diff --stack-name` against it: tests/rehearsal/test_diff.py.)"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from automaps_local.cli import main
from tests.conftest import ROOT


@pytest.fixture
def pushed(rehearsal, tmp_path, capsys) -> Path:
    """GIVEN the repository pushed to the rehearsal stack, and a copy of it to edit."""
    root = tmp_path / "repo"
    for folder in ("maps", "statemachines", "content"):
        shutil.copytree(ROOT / folder, root / folder)
    shutil.copy(ROOT / "template.yaml", root / "template.yaml")
    assert main(["push", "--stack-name", "automaps", "--root", str(root)]) == 0
    capsys.readouterr()
    return root


def pushed_content_table() -> str:
    import boto3

    [stack] = boto3.client("cloudformation").describe_stacks(StackName="automaps")["Stacks"]
    return next(o["OutputValue"] for o in stack["Outputs"] if o["OutputKey"] == "ContentTableName")


def edit_wait(root: Path) -> Path:
    path = root / "maps" / "welcome-leads.yaml"
    text = path.read_text()
    assert "wait: {days: 2," in text
    path.write_text(text.replace("wait: {days: 2,", "wait: {days: 3,"))
    return path


def test_given_an_edited_map_when_publish_runs_against_the_stack_then_its_alias_moves_to_a_new_version(
        pushed, capsys):
    import boto3

    from automaps.store.content import ContentStore

    # GIVEN welcome-leads edited; the stack runs version 1 through the alias live (sam deploy's)
    path = edit_wait(pushed)
    machine = next(m["stateMachineArn"] for m in boto3.client("stepfunctions").list_state_machines()["stateMachines"]
                   if m["name"] == "automaps-welcome-leads")

    # WHEN `automaps publish maps/welcome-leads.yaml --stack-name automaps` runs
    code = main(["publish", str(path), "--stack-name", "automaps", "--root", str(pushed)])

    # THEN version 2 is published, the alias routes to it, and the registry holds the edit
    out = capsys.readouterr().out
    assert code == 0, out
    assert "version 2 published" in out and "alias live moved from version 1" in out
    alias = boto3.client("stepfunctions").describe_state_machine_alias(stateMachineAliasArn=f"{machine}:live")
    assert [r["stateMachineVersionArn"] for r in alias["routingConfiguration"]] == [f"{machine}:2"]
    record = ContentStore(pushed_content_table()).get("MAP", "welcome-leads")
    assert record is not None and record["source"]["steps"][2]["wait"]["days"] == 3
