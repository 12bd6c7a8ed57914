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


def contacts_inside(rehearsal) -> dict[str, str]:
    """GIVEN two contacts inside welcome-leads on version 1 of the stack, as their positions of
    record say: ann paused on the two days' wait, bob paused on the nudge email (no run executes
    either: a paused contact moves without an execution)."""
    from automaps import aws
    from automaps.maps.loader import load_map
    from automaps.store.contacts import ContactStore
    from automaps.store.content import to_item

    v1 = load_map(ROOT / "maps" / "welcome-leads.yaml").content_hash()
    store, ids = ContactStore(), {}
    for name, step, state in (("ann", "two-days-later", "two-days-later"), ("bob", "nudge-email", "nudge-email")):
        contact, _ = store.upsert_by_email(f"{name}@example.com", {"first_name": name})
        store.create_enrollment(contact.id, "welcome-leads", f"e-{name}", {"type": "form_submitted"})
        position = {"step": step, "state": state, "kind": "step", "since": "2026-11-23T14:00:00Z",
                    "map_version": v1, "stopped": True}
        aws.client("dynamodb").update_item(
            TableName=rehearsal.outputs["ContactsTableName"],
            Key=to_item({"pk": f"CONTACT#{contact.id}", "sk": f"ENROLL#welcome-leads#e-{name}"}),
            UpdateExpression="SET #s = :paused, #p = :position",
            ExpressionAttributeNames={"#s": "status", "#p": "position"},
            ExpressionAttributeValues=to_item({":paused": "paused", ":position": position}))
        ids[name] = contact.id
    return ids


def without_nudge(root: Path) -> Path:
    path = root / "maps" / "welcome-leads.yaml"
    text = path.read_text()
    path.write_text(text.replace("days: 2, at", "days: 3, at").split("    else:\n")[0])
    return path


def test_given_contacts_inside_when_published_with_move_then_they_are_on_the_new_version_and_it_is_recorded(
        rehearsal, pushed, capsys):
    from automaps.journeys.census import census
    from automaps.maps.loader import load_map
    from automaps.store.contacts import ContactStore

    ids = contacts_inside(rehearsal)
    path = without_nudge(pushed)

    # WHEN the edit (wait 3 days, the nudge email removed) is published with --policy move
    code = main(["publish", str(path), "--stack-name", "automaps", "--root", str(pushed), "--policy", "move"])

    # THEN ann stays paused on the wait of version 2; bob's step is gone and nothing follows it: he leaves
    out = capsys.readouterr().out
    assert code == 0, out
    assert "1 moved, 1 left" in out and "two-days-later -> two-days-later: 1" in out
    counted = census("welcome-leads")
    assert counted.total == 1 and counted.by_step() == {"two-days-later": 1}
    [(version, status)] = {(c.map_version, c.status) for c in counted.counts}
    assert status == "paused" and version == load_map(path).content_hash()
    kinds = {name: [e.kind for e in ContactStore().events(cid, "map.migrated")] for name, cid in ids.items()}
    assert kinds == {"ann": ["map.migrated"], "bob": ["map.migrated"]}
    [left] = ContactStore().events(ids["bob"], "map.exited")
    assert left.detail["reason"] == "step_removed"


def test_given_contacts_inside_when_the_map_is_removed_then_compile_counts_them_on_the_stack_and_refuses(
        rehearsal, pushed, capsys):
    contacts_inside(rehearsal)
    # WHEN welcome-leads' file is deleted and compile runs, counting on the stack
    (pushed / "maps" / "welcome-leads.yaml").unlink()
    args = ["compile", "--maps", str(pushed / "maps"), "--out", str(pushed / "statemachines")]
    code = main([*args, "--stack-name", "automaps"])

    # THEN it is refused with the count, and the template still deploys the map
    assert code == 3
    assert "map 'welcome-leads' still holds 2 contact(s) on stack automaps" in capsys.readouterr().err
    assert "WelcomeLeadsStateMachine" in (pushed / "template.yaml").read_text()
