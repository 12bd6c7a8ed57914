"""End to end on the local runtime: conditions decided where they cost least. A switch right
after an action is decided in that action's invocation (no check_condition call on the way);
an if after a wait is decided by check_condition; both are recorded with their inputs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from automaps.journeys import enrollment
from automaps.store.contacts import ContactStore
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

MAP = ROOT / "tests/e2e/maps/conditions-journey.yaml"


def test_given_a_buyer_then_the_switch_after_the_purchase_is_decided_in_the_same_invocation(runtime):
    map_id = runtime.stack.deploy_map(MAP).map_id
    store = ContactStore()
    buyer, _ = store.upsert_by_email("buyer@example.com", {"first_name": "Bo"})
    record = enrollment.MapRecord(id=map_id, state_machine_arn=runtime.state_machine_arn(map_id), version="test",
                                  triggers=[])
    enrolled = enrollment.enroll(record, buyer.id, {"type": "form_submitted", "form": "newsletter"}, "sub-1")

    assert runtime.run_until_settled(until=timedelta(days=2), timeout=60)
    [execution] = runtime.executions(map_id)
    assert execution["status"] == "SUCCEEDED", execution
    arn = execution["arn"]

    contact = store.require(buyer.id)
    assert {"buyer", "big-spender"} <= contact.tags and "not-buyer" not in contact.tags
    evaluated = store.events(buyer.id, "condition.evaluated")
    assert [(e.step_id, e.detail.get("case", e.detail["result"])) for e in evaluated] == [("route", 1),
                                                                                            ("big-order", True)]
    route = evaluated[0].detail["cases"][1]["inputs"]
    assert [i["condition"] for i in route] == ["purchased_product", "in_automation"]
    assert route[1]["active_enrollment"] == enrolled.enrollment_id
    # the switch cost no state and no Lambda call of its own: only its Choice
    entered = [e["stateEnteredEventDetails"]["name"] for e in runtime.history(arn) if "stateEnteredEventDetails" in e]
    assert "route check" not in entered and "route" in entered
    assert "big-order check" in entered
