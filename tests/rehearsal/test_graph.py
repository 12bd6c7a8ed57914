"""`automaps graph --stack-name` against the rehearsal stack (our template in moto's
CloudFormation): each step of the drawn map carries the counters the router keeps in the
stack's contacts table (automaps.journeys.stats.read_map)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from automaps_local.cli import main
from tests.conftest import ROOT
from tests.rehearsal.helpers import count_on_stack

SVG = "{http://www.w3.org/2000/svg}"


pytestmark = pytest.mark.usefixtures("stack_environment_restored")


def test_given_welcome_leads_counted_on_the_stack_when_graph_runs_then_each_step_carries_its_numbers(
        rehearsal, capsys, monkeypatch):
    # GIVEN welcome-leads registered on the stack, and the router's count of one stream batch there:
    # two contacts entered, both sent the welcome email, one opened it, both wait two days
    written = [("ann", "map.enrolled", None, {}), ("bob", "map.enrolled", None, {}),
               ("ann", "step.done", "tag-lead", {}), ("bob", "step.done", "tag-lead", {}),
               ("ann", "email.sent", "welcome-email", {"message_id": "m-a"}),
               ("bob", "email.sent", "welcome-email", {"message_id": "m-b"}),
               ("ann", "wait.entered", "two-days-later", {}), ("bob", "wait.entered", "two-days-later", {}),
               ("ann", "email.opened", "welcome-email", {"message_id": "m-a"})]
    count_on_stack(rehearsal, monkeypatch, written)
    capsys.readouterr()   # (the router's metrics, EMF on stdout)

    # WHEN graph draws the map as an SVG with the stack's counts, and as Mermaid
    svg_code = main(["graph", str(ROOT / "maps/welcome-leads.yaml"), "--format", "svg",
                     "--stack-name", rehearsal.name])
    svg = capsys.readouterr().out
    mermaid_code = main(["graph", str(ROOT / "maps/welcome-leads.yaml"), "--stack-name", rehearsal.name])
    mermaid = capsys.readouterr().out

    # THEN every step carries the stack's numbers
    assert (svg_code, mermaid_code) == (0, 0)
    steps = {g.get("data-step"): g.get("aria-label") for g in ET.fromstring(svg).iter(f"{SVG}g") if g.get("data-step")}
    assert "done 2" in steps["tag-lead"]
    assert "sent 2" in steps["welcome-email"] and "opened 1 (50%)" in steps["welcome-email"]
    assert "waiting 2" in steps["two-days-later"]
    assert "opened 1 (50%)" in mermaid
    from automaps import aws as aws_clients

    aws_clients.reset()  # (the clients made for the stack)
