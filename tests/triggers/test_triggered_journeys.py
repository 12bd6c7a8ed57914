"""End to end on the local runtime (issue 9): an entry on a contact's history reaches the
router through the contacts table's stream, the router queues the enrollment, the intake
consumer starts the map, and the map's steps see the entry as ``{{ event.* }}``; two maps
that start each other stop at the chain limit, recorded. The maps are test maps
(tests/triggers/maps), deployed into the runtime's moto account as `sam deploy` would."""

from __future__ import annotations

from datetime import timedelta

import pytest

from automaps.journeys.triggers import MAX_CHAIN_DEPTH
from automaps.store.contacts import ContactStore
from tests.conftest import ROOT, load_event

pytestmark = pytest.mark.slow

MAPS = ROOT / "tests/triggers/maps"


def test_given_a_purchase_trigger_when_a_customer_buys_then_the_map_runs_with_the_purchase_as_its_event(runtime):
    # GIVEN the map started by a purchase of course-101 (for customers), a customer and a lead
    map_id = runtime.stack.deploy_map(MAPS / "purchase-thanks.yaml").map_id
    store = ContactStore()
    customer, _ = store.upsert_by_email("buyer@example.com", {"first_name": "Bo"}, tags=["customer"])
    lead, _ = store.upsert_by_email("lead@example.com", {"first_name": "Li"})
    purchase = load_event("triggers/entries.json")["purchase_made"]["matching"]

    # WHEN both buy the course (the purchase.made entry written on their histories)
    for contact in (customer, lead):
        store.record(contact.id, purchase["kind"], purchase["detail"])
    assert runtime.run_until_settled(until=timedelta(minutes=5))

    # THEN the customer's run set fields from {{ event.* }} and went on to the end
    [execution] = runtime.executions(map_id)
    assert execution["status"] == "SUCCEEDED", execution
    bought = store.get(customer.id)
    assert bought.fields["last_order"] == "A-17"
    assert bought.fields["last_total"] == "149.00 USD"
    assert bought.fields["started_by"] == "purchase_made purchase.made"
    assert "course-buyer" in bought.tags
    # AND the lead (only_if: has_tag customer) was not enrolled
    assert store.enrollments(lead.id, map_id) == []
    assert "last_order" not in store.get(lead.id).fields


def test_given_two_maps_that_start_each_other_when_one_starts_then_the_loop_stops_at_the_limit_recorded(runtime):
    # GIVEN loop-a (tag a-go -> its step tags b-go) and loop-b (tag b-go -> its step tags a-go)
    for name in ("loop-a", "loop-b"):
        runtime.stack.deploy_map(MAPS / f"{name}.yaml")
    store = ContactStore()
    contact, _ = store.upsert_by_email("jane@example.com", {})

    # WHEN the contact is tagged a-go from outside any map
    store.change_tags(contact.id, add=["a-go"])
    store.record(contact.id, "tags.changed", {"added": ["a-go"], "removed": []})
    assert runtime.run_until_settled(until=timedelta(hours=1), timeout=120)

    # THEN the maps took turns to depth 10 (11 runs, each succeeded) and then stopped
    runs = sorted((e.event["depth"], e.map_id) for m in ("loop-a", "loop-b") for e in store.enrollments(contact.id, m))
    assert runs == [(d, "loop-a" if d % 2 == 0 else "loop-b") for d in range(MAX_CHAIN_DEPTH + 1)]
    assert all(e["status"] == "SUCCEEDED" for m in ("loop-a", "loop-b") for e in runtime.executions(m))
    # AND map.enroll_skipped records it once, naming the loop and the map it would have started
    [skip] = [h for h in store.history(contact.id) if h.kind == "map.enroll_skipped"]
    assert skip.detail["chain_limit"] is True
    assert skip.detail["maps"] == ["loop-b"] and skip.map_id == "loop-a"
    assert skip.detail["reason"].startswith(f"a chain of maps went deeper than {MAX_CHAIN_DEPTH} (loop-a -> loop-b")
