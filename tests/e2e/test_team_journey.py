"""End to end on the local runtime: the team and contact-data actions in one map
(tests/e2e/maps/team-journey.yaml), then the admin API (through the local HTTP front, routes from
template.yaml) lists the task the map assigned, completes it and exports the fulfillment list."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from werkzeug.test import Client

from automaps.store.contacts import ContactStore
from automaps.store.lists import ListStore
from automaps_local.http import LocalApi
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

MAP = ROOT / "tests/e2e/maps/team-journey.yaml"


def test_given_a_wholesale_lead_then_lists_team_and_task_follow_and_the_admin_api_closes_the_loop(runtime):
    map_id = runtime.stack.deploy_map(MAP).map_id
    lead, _ = ContactStore().upsert_by_email("ola@example.com", {"first_name": "Ola", "last_name": "Nordmann",
                                                                 "phone": "+4722334455"})
    ContactStore().create_enrollment(lead.id, map_id, "e_ola", {"type": "form_submitted", "form": "newsletter"})
    runtime.start_execution(map_id, {"contact_id": lead.id, "enrollment_id": "e_ola", "map_id": map_id},
                            "team-journey-e_ola")

    runtime.run_until_settled(until=timedelta(days=1))       # inside the two-day wait
    lists = ListStore()
    assert [m["contact_id"] for m in lists.members("list", "wholesale-news")] == [lead.id]
    [desk_email] = runtime.outbox()["emails"]
    assert desk_email["to"] == ["desk@example.com"]
    assert desk_email["subject"] == "New wholesale lead: Ola Nordmann"
    assert "+4722334455" in desk_email["text"] and "unsubscribe" not in desk_email["text"].lower()
    [desk_sms] = runtime.outbox()["sms"]
    assert (desk_sms["to"], desk_sms["text"]) == ("+14155550199", "New wholesale lead Ola")

    api = Client(LocalApi(runtime))
    [task] = api.get("/tasks?assignee=rep@example.com&status=open").get_json()["tasks"]
    assert task["title"] == "Call back Ola" and task["priority"] == "high"
    assert task["due_at"].startswith("2026-11-24T14:00:00")
    assert api.post(f"/tasks/{task['task_id']}/complete", json={"note": "left a voicemail"}).status_code == 200
    assert api.get("/tasks?assignee=rep@example.com&status=open").get_json()["tasks"] == []

    exported = api.get("/fulfillment/sample-packs?format=csv")
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
    assert rows[0] == ["contact_id", "added_at", "first_name", "last_name", "email"]
    assert [row[:1] + row[2:] for row in rows[1:]] == [[lead.id, "Ola", "Nordmann", "ola@example.com"]]

    assert runtime.run_until_settled(timeout=60)
    [execution] = runtime.executions(map_id)
    assert execution["status"] == "SUCCEEDED", execution
    assert list(lists.members("list", "wholesale-news")) == []
    kinds = [h["kind"] for h in runtime.contact(contact_id=lead.id)["history"]]
    for kind in ("list.added", "fulfillment.added", "team.notified", "task.assigned", "task.completed",
                 "list.removed", "map.exited"):
        assert kind in kinds, kind
