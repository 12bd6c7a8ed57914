"""The census of a map (automaps.journeys.census): how many contacts sit on each step now, from
their positions of record, counted on the local runtime with real journeys of welcome-leads; and
`automaps diff` there, which puts those counts next to the steps an edit changes or removes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from werkzeug.test import Client

from automaps.journeys.census import census, live_enrollments
from automaps.maps.loader import load_map
from automaps_local.cli import main
from automaps_local.clock import VirtualClock
from automaps_local.http import LocalApi
from automaps_local.runtime import LocalRuntime
from automaps_local.serve import push_content
from tests.conftest import ROOT, load_event

pytestmark = pytest.mark.slow

MONDAY_9AM = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # 09:00 in New York
SATURDAY_11AM = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)


@pytest.fixture
def runtime():
    """GIVEN the backend from template.yaml on moto with the maps and content pushed, at a fixed
    virtual instant that moves only when the test says so."""
    with LocalRuntime(ROOT / "template.yaml", clock=VirtualClock(MONDAY_9AM, auto_advance=False),
                      environment={"POWERTOOLS_METRICS_DISABLED": "true"}, schedule_events=False) as running:
        push_content(running)
        yield running


def sign_up(runtime: LocalRuntime, email: str) -> None:
    body = {**json.loads(load_event("form_post_json.json")["body"]), "email": email}
    response = Client(LocalApi(runtime)).post("/forms/newsletter", data=json.dumps(body),
                                              headers={"Content-Type": "application/json"})
    assert response.status_code == 202


@pytest.fixture
def contacts_inside(runtime):
    """GIVEN welcome-leads with dan gone through the whole map (exited) by Wednesday, ann signed
    up then and past her two days (waiting for her nudge email's 4 hours), bob and cid just
    signed up (on the two-days wait)."""
    sign_up(runtime, "dan@example.com")
    runtime.run_until_settled(until=timedelta(days=3))
    sign_up(runtime, "ann@example.com")
    runtime.run_until_settled(until=SATURDAY_11AM)  # her wait ended at 09:00, her nudge is due at 13:00
    for email in ("bob@example.com", "cid@example.com"):
        sign_up(runtime, email)
    runtime.run_until_settled(until=timedelta(hours=1))
    return runtime


def test_given_contacts_on_two_steps_and_one_gone_then_the_census_counts_each_step_and_not_the_exited(
        contacts_inside):
    counted = census("welcome-leads")

    assert counted.by_step() == {"two-days-later": 2, "nudge-email": 1}
    assert counted.total == 3 and counted.at("two-days-later") == 2 and counted.at("welcome-email") == 0
    assert {(c.step, c.status) for c in counted.counts} == {("nudge-email", "active"), ("two-days-later", "active")}
    # (positions record the map version they run on, its content hash, once the compiler puts it in the payload)
    assert set(counted.versions()) <= {None, load_map(ROOT / "maps" / "welcome-leads.yaml").content_hash()}
    assert counted.scanned > 3  # a Scan reads every item of the table: profiles and history too
    assert census("lead-nurture").total == 0


def test_given_contacts_inside_then_live_enrollments_name_each_contact_with_its_position(contacts_inside):
    found = list(live_enrollments("welcome-leads", page_size=5))  # small pages: the Scan is paginated

    ids = {contacts_inside.contact(email=email)["contact_id"]: email.split("@")[0]
           for email in ("ann@example.com", "bob@example.com", "cid@example.com")}
    assert sorted((ids[e.contact_id], e.step) for e in found) == [
        ("ann", "nudge-email"), ("bob", "two-days-later"), ("cid", "two-days-later")]
    assert all(e.position and e.position["state"] for e in found)


def test_given_contacts_inside_when_diff_runs_on_an_edit_then_it_counts_those_on_changed_and_removed_steps(
        contacts_inside, tmp_path, capsys):
    # WHEN the wait becomes three days and the nudge email is removed
    text = (ROOT / "maps" / "welcome-leads.yaml").read_text()
    edited = text.replace("days: 2, at", "days: 3, at").split("    else:\n")[0]
    (tmp_path / "welcome-leads.yaml").write_text(edited)

    code = main(["diff", str(tmp_path / "welcome-leads.yaml"), "--against", str(ROOT / "maps" / "welcome-leads.yaml")])
    lines = capsys.readouterr().out.splitlines()
    as_json = main(["diff", str(tmp_path / "welcome-leads.yaml"), "--against", str(ROOT / "maps" / "welcome-leads.yaml"),
                    "--json"])
    body = json.loads(capsys.readouterr().out)

    # THEN it says where the 3 contacts inside sit, next to each step it changes or removes
    assert code == as_json == 0
    assert "  3 contacts in the map now, on the local tables" in lines
    assert "  - nudge-email (send_email, steps[3].else[0]): 1 contact on it now" in lines
    assert "  ~ two-days-later (wait, steps[2]): 2 contacts on it now" in lines
    assert lines[lines.index("  ~ two-days-later (wait, steps[2]): 2 contacts on it now") + 1] == (
        "      timing wait.days: 2 -> 3")
    assert [(s["step"], s["contacts"]) for s in body["removed"]] == [("nudge-email", 1)]
    assert ("two-days-later", 2) in [(s["step"], s["contacts"]) for s in body["changed"]]
    assert body["contacts"]["total"] == 3 and body["contacts"]["by_step"] == {"nudge-email": 1, "two-days-later": 2}
