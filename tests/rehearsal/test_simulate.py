"""`automaps simulate --segment S --stack-name STACK` against the rehearsal stack (our template in
moto's CloudFormation): the segment's members and their fields are read from the stack's tables,
then simulated on the local runtime, nothing written to the stack."""

from __future__ import annotations

import re

import pytest

from automaps_local.cli import main
from tests.conftest import ROOT


pytestmark = pytest.mark.usefixtures("stack_environment_restored")


def test_given_a_segment_of_the_stack_when_simulated_then_its_members_run_locally(rehearsal, capsys):
    from automaps import aws as aws_clients
    from automaps.store.contacts import ContactStore
    from automaps.store.content import ContentStore
    from automaps.store.segments import SegmentStore
    from automaps_local.push import load_segments

    # GIVEN the stack's segment newsletter-readers with two members (one over 45), and a contact outside it
    aws_clients.reset()
    contacts_table, content_table = rehearsal.physical["ContactsTable"], rehearsal.physical["ContentTable"]
    ContentStore(content_table).put("SEGMENT", "newsletter-readers", load_segments(ROOT)["newsletter-readers"])
    store = ContactStore(contacts_table)
    for email, age in (("ann@example.com", 52), ("bob@example.com", 30), ("out@example.com", 60)):
        contact, _ = store.upsert_by_email(email, {"email": email, "first_name": email[:3].title(), "age": age})
        if not email.startswith("out"):
            SegmentStore(contacts_table).enter("newsletter-readers", contact.id, cause=f"H#{email}")
    aws_clients.reset()

    # WHEN welcome-leads is simulated for the segment's members
    code = main(["simulate", str(ROOT / "maps" / "welcome-leads.yaml"), "--segment", "newsletter-readers",
                 "--stack-name", rehearsal.name, "--template", str(ROOT / "template.yaml"), "--no-progress"])
    out = re.sub(r"(?<=\S)  +(?=\S)", "  ", capsys.readouterr().out)

    # THEN both members ran locally: one got the nudge, the other (under 45) skipped it
    assert code == 0, out
    assert "welcome-leads: 2 contacts, 2 entered, 0 failed" in out
    assert "  1  tag-lead -> welcome-email -> engaged: no -> nudge-email\n" in out
    assert "  1  tag-lead -> welcome-email -> engaged: no -> nudge-email skipped" in out
    aws_clients.reset()
    kinds = {item.get("kind", {}).get("S") for item in aws_clients.client("dynamodb").scan(
        TableName=contacts_table)["Items"]}  # fmt: skip
    assert "form.submitted" not in kinds and "map.enrolled" not in kinds  # the stack's table is as it was


def test_given_a_segment_the_stack_does_not_have_when_simulated_then_it_says_so_and_exits_2(rehearsal, capsys):
    code = main(["simulate", str(ROOT / "maps" / "welcome-leads.yaml"), "--segment", "nobody",
                 "--stack-name", rehearsal.name, "--template", str(ROOT / "template.yaml")])

    assert code == 2
    assert f"--segment 'nobody': stack {rehearsal.name} has no such segment pushed" in capsys.readouterr().err
