"""Handlers keep the payload contract of every version that still holds contacts: the previous
release's compiled machines (tests/compat/release-10, as deployed before versions, aliases, the
cost cuts and map versions) run against the current handlers, end to end, as the version a
contact started on before the upgrade."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from werkzeug.test import Client

from automaps import aws
from automaps_local.clock import VirtualClock
from automaps_local.http import LocalApi
from automaps_local.runtime import LocalRuntime
from automaps_local.serve import push_content
from automaps_local.wiring import ALIAS, substitutions
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

RELEASE = Path(__file__).parent / "release-10"
MONDAY_9AM = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)

# map -> (form, fields, virtual time its journey takes)
JOURNEYS = {
    "welcome-leads": ("newsletter", {"first_name": "Ann", "phone": "+14155550134", "age": 52}, timedelta(days=3)),
    "membership-cancel": ("cancel-membership", {"first_name": "Mia", "reason": "moving abroad"}, timedelta(hours=1)),
    "webinar-reminder": ("webinar", {"first_name": "Wes", "webinar_at": "2026-11-25T20:00:00Z"}, timedelta(days=3)),
}


@pytest.fixture
def runtime():
    with LocalRuntime(ROOT / "template.yaml", clock=VirtualClock(MONDAY_9AM, auto_advance=False),
                      environment={"POWERTOOLS_METRICS_DISABLED": "true"}, schedule_events=False) as running:
        push_content(running)
        yield running


def run_release_version(runtime: LocalRuntime, map_id: str) -> str:
    """GIVEN the alias of ``map_id`` on a version of the previous release's definition (what a
    contact who entered before the upgrade runs), substituted as the template does today."""
    machine = runtime.stack.state_machines[map_id]
    text = (RELEASE / f"{map_id}.asl.json").read_text()
    definition = runtime.stack.substitute(text, substitutions(runtime.stack.template, text), machine.logical_id)
    sfn = aws.client("stepfunctions")
    version = sfn.update_state_machine(stateMachineArn=machine.arn, definition=definition,
                                       publish=True)["stateMachineVersionArn"]
    sfn.update_state_machine_alias(stateMachineAliasArn=f"{machine.arn}:{ALIAS}",
                                   routingConfiguration=[{"stateMachineVersionArn": version, "weight": 100}])
    return version


@pytest.mark.parametrize("map_id", sorted(JOURNEYS))
def test_given_the_previous_releases_machine_when_a_contact_goes_through_it_then_the_current_handlers_run_it(
        runtime, map_id):
    run_release_version(runtime, map_id)
    form, fields, takes = JOURNEYS[map_id]
    email = f"{map_id}@example.com"

    # WHEN a contact enters through the map's form and its journey runs to its end
    response = Client(LocalApi(runtime)).post(f"/forms/{form}", data=json.dumps({"email": email, **fields}),
                                              headers={"Content-Type": "application/json"})
    assert response.status_code in (202, 303), response.get_data(as_text=True)
    runtime.run_until_settled(until=takes)

    # THEN the run succeeded on the old definition, every step done or skipped, none failed
    [execution] = runtime.executions(map_id)
    assert execution["status"] == "SUCCEEDED", execution
    history = [h for h in runtime.contact(email=email)["history"] if h["map_id"] == map_id]
    kinds = [h["kind"] for h in history]
    assert "step.failed" not in kinds and "map.exited" in kinds
    assert kinds.count("step.done") >= 1


def test_given_the_previous_releases_nurture_and_onboarding_when_a_lead_buys_then_the_goal_the_handoff_and_the_return_run(
        runtime):
    """lead-nurture and customer-onboarding as released before: a prospect enters through the list,
    buys on day 2 (the goal jumps them out of the week's wait), onboarding runs and returns them."""
    from automaps.store.contacts import ContactStore, Effect
    from automaps.store.lists import ListStore

    for map_id in ("lead-nurture", "customer-onboarding"):
        run_release_version(runtime, map_id)
    store = ContactStore()
    contact, _ = store.upsert_by_email("lea@example.com", {"first_name": "Lea", "timezone": "America/New_York"},
                                       tags=["lead"])
    ListStore().add("list", "prospects", contact.id, effect=Effect(visit=f"import-{contact.id}", kind="list.added"))
    runtime.run_until_settled(until=timedelta(days=2))
    store.record(contact.id, "purchase.made", {"product": "course-101", "order_id": "A-1"})
    runtime.run_until_settled(until=timedelta(days=10))

    history = runtime.contact(contact_id=contact.id)["history"]
    kinds = [(h["map_id"], h["kind"]) for h in history]
    assert ("lead-nurture", "goal.achieved") in kinds and ("customer-onboarding", "map.exited") in kinds
    assert not [h for h in history if h["kind"] == "step.failed"]
    assert [h["step_id"] for h in history if h["kind"] == "email.sent" and h["map_id"] == "lead-nurture"][-1] == \
        "review-request"
    assert "customer" in runtime.contact(contact_id=contact.id)["tags"]
