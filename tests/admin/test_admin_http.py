"""The admin API through the local HTTP front, which reads its routes from template.yaml.

IAM auth (SigV4) is not modelled locally: the front passes requests straight to the handler.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from werkzeug.test import Client

from automaps.store.contacts import ContactStore
from automaps_local.clock import VirtualClock
from automaps_local.http import LocalApi
from automaps_local.runtime import LocalRuntime
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalRuntime]:
    clock = VirtualClock(datetime(2026, 11, 2, 8, 0, tzinfo=UTC), auto_advance=False)
    with LocalRuntime(ROOT / "template.yaml", clock=clock,
                      environment={"POWERTOOLS_METRICS_DISABLED": "true"}) as rt:
        yield rt


@pytest.fixture
def client(runtime: LocalRuntime) -> Client:
    return Client(LocalApi(runtime))


def test_given_the_template_then_the_admin_routes_are_served_locally(runtime):
    routes = {(r.method, r.path): r.function for r in runtime.routes()}

    assert routes[("GET", "/tasks")] == "AdminApiFunction"
    assert routes[("POST", "/tasks/{task_id}/complete")] == "AdminApiFunction"
    assert routes[("GET", "/fulfillment/{name}")] == "AdminApiFunction"


def test_given_a_task_assigned_by_the_step_when_listed_and_completed_over_http_then_it_is_done_once(
        runtime, client):
    jane, _ = ContactStore().upsert_by_email("jane@example.com", {"first_name": "Jane"})
    event = json.loads((ROOT / "events" / "assign_task.json").read_text())
    assert runtime.invoke("AssignTaskFunction", {**event, "contact_id": jane.id})["outcome"] == "done"

    listed = client.get("/tasks?assignee=sam@example.com&status=open")
    assert listed.status_code == 200, listed.get_data(as_text=True)
    [task] = [t for t in listed.json["tasks"] if t["contact_id"] == jane.id]
    assert task["title"] == "Call Jane"

    done = client.post(f"/v1/tasks/{task['task_id']}/complete", json={"note": "called"})
    again = client.post(f"/tasks/{task['task_id']}/complete")

    assert (done.status_code, done.json["already_completed"]) == (200, False)
    assert (again.status_code, again.json["already_completed"]) == (200, True)
    kinds = [e.kind for e in ContactStore().history(jane.id)]
    assert kinds.count("task.completed") == 1
    assert client.get("/tasks?assignee=sam@example.com").json["tasks"] == []


def test_given_a_missing_assignee_over_http_then_400(client):
    response = client.get("/tasks")

    assert response.status_code == 400 and "assignee" in response.json["message"]


def test_given_a_fulfillment_list_when_exported_over_http_then_a_csv_download_comes_back(runtime, client):
    jane, _ = ContactStore().upsert_by_email("jane.kit@example.com", {"first_name": "Jane", "city": "=cmd"})
    event = json.loads((ROOT / "events" / "send_to_fulfillment.json").read_text())
    assert runtime.invoke("SendToFulfillmentFunction", {**event, "contact_id": jane.id})["outcome"] == "done"

    response = client.get("/fulfillment/welcome-kit?format=csv")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    lines = response.get_data(as_text=True).splitlines()
    assert lines[0] == "contact_id,added_at,first_name,city"
    assert lines[1].endswith(",Jane,'=cmd")
