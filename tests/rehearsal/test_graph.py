"""`automaps graph --stack-name` against the rehearsal stack (our template in moto's
CloudFormation): each step of the drawn map carries the counters the router keeps in the
stack's contacts table (automaps.journeys.stats.read_map)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest

from automaps_local.cli import main
from tests.conftest import ROOT

AT = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(autouse=True)
def _tables_restored(monkeypatch):
    """use_stack points the environment at the stack's tables: undone after the test."""
    for name in ("CONTACTS_TABLE", "CONTENT_TABLE", "SIGNING_SECRET_ARN", "EMAIL_FROM", "PUBLIC_API_URL"):
        monkeypatch.setenv(name, "unset")
        monkeypatch.delenv(name)


def test_given_welcome_leads_counted_on_the_stack_when_graph_runs_then_each_step_carries_its_numbers(
        rehearsal, capsys, monkeypatch):
    from automaps import aws as aws_clients
    from automaps.journeys import router
    from automaps.maps.loader import load_map
    from automaps.store import contacts
    from automaps.store.contacts import HistoryEntry
    from automaps.store.content import ContentStore
    from automaps_local.push import map_record

    # GIVEN welcome-leads registered on the stack, and the router's count of one stream batch there:
    # two contacts entered, both sent the welcome email, one opened it, both wait two days
    aws_clients.reset()
    machine = rehearsal.physical["WelcomeLeadsStateMachine"]
    record = map_record(load_map(ROOT / "maps" / "welcome-leads.yaml"), machine, "v1")
    ContentStore(rehearsal.physical["ContentTable"]).put("MAP", "welcome-leads", record.model_dump(mode="json"))
    monkeypatch.setenv("CONTACTS_TABLE", rehearsal.physical["ContactsTable"])
    monkeypatch.setenv("CONTENT_TABLE", rehearsal.physical["ContentTable"])
    written = [("ann", "map.enrolled", None, {}), ("bob", "map.enrolled", None, {}),
               ("ann", "step.done", "tag-lead", {}), ("bob", "step.done", "tag-lead", {}),
               ("ann", "email.sent", "welcome-email", {"message_id": "m-a"}),
               ("bob", "email.sent", "welcome-email", {"message_id": "m-b"}),
               ("ann", "wait.entered", "two-days-later", {}), ("bob", "wait.entered", "two-days-later", {}),
               ("ann", "email.opened", "welcome-email", {"message_id": "m-a"})]
    records = []
    for n, (contact, kind, step, detail) in enumerate(written):
        image = contacts._history_item(contact, HistoryEntry(at=AT, kind=kind, map_id="welcome-leads",
                                                             step_id=step, detail=detail))
        records.append({"eventID": str(n), "eventName": "INSERT", "eventSourceARN": "stream",
                        "dynamodb": {"NewImage": image, "SequenceNumber": str(100 + n)}})
    monkeypatch.setattr(router, "route_entry", lambda *args: None)   # (the stack has no queue to enroll on here)
    assert router.handle({"Records": records}, None)["batchItemFailures"] == []
    monkeypatch.delenv("CONTACTS_TABLE")
    monkeypatch.delenv("CONTENT_TABLE")
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
    aws_clients.reset()
