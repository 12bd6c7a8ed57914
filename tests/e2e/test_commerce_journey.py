"""End to end on the local runtime: the commerce and access actions in one map
(tests/e2e/maps/commerce-journey.yaml), its state machine executing with the real handlers from
template.yaml in-process, a four-day wait passing on the virtual clock.

The map is a test map, not one of maps/, so template.yaml does not deploy it: the test compiles
it and creates its state machine in the runtime's moto account with the template's own
DefinitionSubstitutions (those of the deployed maps), as `sam deploy` would."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest

from automaps.store.commerce import CommerceStore, current_offers
from automaps.store.contacts import ContactStore
from tests.conftest import ROOT
from tests.e2e.conftest import START

pytestmark = pytest.mark.slow

MAP = ROOT / "tests/e2e/maps/commerce-journey.yaml"


def test_given_a_buyer_in_the_commerce_map_then_every_commerce_action_acts_once_in_order(runtime):
    map_id = runtime.stack.deploy_map(MAP).map_id
    store = ContactStore()
    buyer, _ = store.upsert_by_email("buyer@example.com", {"first_name": "Bo"})
    store.create_enrollment(buyer.id, map_id, "e_buyer", {"type": "form_submitted", "form": "newsletter",
                                                          "fields": {"order_id": "ord_77"}})
    runtime.start_execution(map_id, {"contact_id": buyer.id, "enrollment_id": "e_buyer", "map_id": map_id},
                            "commerce-journey-e_buyer")

    runtime.run_until_settled(until=timedelta(days=1))          # before the wait ends
    shop = CommerceStore()
    assert [p.product_id for p in shop.products(buyer.id)] == ["ebook-101"]
    (purchase,) = shop.purchases(buyer.id, "course-pro")
    assert (purchase.order_id, purchase.total, purchase.currency) == ("ord_77", Decimal("49.00"), "USD")
    assert shop.access(buyer.id)["members-area"].status == "enabled"
    (course,) = shop.course_subscriptions(buyer.id)
    assert (course.course_id, course.plan) == ("copywriting-basics", "monthly")
    (offer,) = current_offers(buyer.id)
    assert offer.merge_fields()["percent"] == "20" and offer.expires_at == START + timedelta(days=3)

    assert runtime.run_until_settled(timeout=60)

    executions = runtime.executions(map_id)  # the 4-day wait went to the scheduler: a second run went on
    assert [e["status"] for e in executions] == ["SUCCEEDED", "SUCCEEDED"], executions
    assert shop.products(buyer.id) == [] and shop.offers(buyer.id) == []
    assert shop.access(buyer.id)["members-area"].status == "suspended"
    history = store.history(buyer.id)
    commerce = [(h.step_id, h.kind) for h in history if h.kind.split(".")[0] in
                {"product", "purchase", "offer", "course", "membership"}]
    assert commerce == [
        ("free-ebook", "product.added"), ("record-order", "purchase.made"),
        ("open-members-area", "membership.access_changed"), ("enrol", "course.subscribed"),
        ("upsell", "offer.created"), ("withdraw-upsell", "offer.removed"), ("take-ebook", "product.removed"),
        ("suspend-members-area", "membership.access_changed")]
    steps = {h.step_id: h.detail["reason"] for h in history if h.kind == "step.done"}
    assert set(steps) >= {"free-ebook", "record-order", "open-members-area", "enrol", "upsell",
                          "withdraw-upsell", "take-ebook", "suspend-members-area"}
    assert all(reason is None for reason in steps.values())
    suspended = [h for h in history if h.kind == "membership.access_changed"][-1]
    assert suspended.detail == {"site": "members-area", "old": "enabled", "new": "suspended"}
    assert suspended.at >= START + timedelta(days=4)
    assert all(json.dumps(e["input"]) for e in executions)  # the state payload stays identifiers only
