"""End to end on the local runtime: the provider-backed commerce and access actions in one map
(tests/e2e/maps/provider-journey.yaml), its state machine executing with the real handlers from
template.yaml in-process against a fake Stripe and a fake WordPress on 127.0.0.1; a 503 from
Stripe is retried by the state's Retry (on the virtual clock) and charges once.

The map is a test map, not one of maps/: the test compiles it and creates its state machine with
the template's own DefinitionSubstitutions, as `sam deploy` would."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from automaps import aws as aws_clients
from automaps.store.contacts import ContactStore
from automaps.store.content import ContentStore
from automaps_local.clock import VirtualClock
from automaps_local.runtime import LocalRuntime
from tests.conftest import ROOT
from tests.providers import fake_stripe, fake_wordpress
from tests.providers.server import serving

pytestmark = pytest.mark.slow

MAP = ROOT / "tests/e2e/maps/provider-journey.yaml"
START = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


def connect(name: str, body: dict, secret: str) -> None:
    """GIVEN connection ``name`` pushed, its secret in Secrets Manager."""
    arn = aws_clients.client("secretsmanager").create_secret(Name=f"automaps/connections/{name}",
                                                             SecretString=secret)["ARN"]
    ContentStore().put("CONNECTION", name, {**body, "secret_arn": arn})


@pytest.fixture
def world():
    clock = VirtualClock(START, auto_advance=False)
    with serving(fake_stripe.FakeStripe()) as stripe, serving(fake_wordpress.FakeWordPress()) as wordpress, \
            LocalRuntime(ROOT / "template.yaml", clock=clock,
                         environment={"POWERTOOLS_METRICS_DISABLED": "true"}) as runtime:
        connect("stripe", {"type": "stripe", "api_base": stripe.url}, json.dumps({"api_key": fake_stripe.API_KEY}))
        connect("members", {"type": "wordpress", "url": wordpress.url, "username": fake_wordpress.USERNAME},
                fake_wordpress.APP_PASSWORD)
        yield runtime, stripe, wordpress


def test_given_a_member_in_collections_then_each_provider_action_acts_once_in_order(world):
    runtime, stripe, wordpress = world
    map_id = runtime.stack.deploy_map(MAP).map_id
    store = ContactStore()
    member, _ = store.upsert_by_email("member@example.com", {"first_name": "Mo"})
    customer = stripe.customer("member@example.com")
    invoice = stripe.invoice(customer, 4900)
    plan = stripe.subscription(customer, "prod_gold", status="past_due")
    stripe.fail_next("POST", f"/v1/invoices/{invoice}/pay", 503, {"error": {"type": "api_error",
                                                                            "message": "Service unavailable"}})
    store.create_enrollment(member.id, map_id, "e_member", {"type": "form_submitted", "form": "newsletter"})

    runtime.start_execution(map_id, {"contact_id": member.id, "enrollment_id": "e_member", "map_id": map_id},
                            "provider-journey-e_member")
    assert runtime.run_until_settled(timeout=60)

    [execution] = runtime.executions(map_id)
    assert execution["status"] == "SUCCEEDED", execution
    assert stripe.charges == [{"invoice": invoice, "amount": 4900, "currency": "usd"}]
    assert len(stripe.requests("POST", f"/v1/invoices/{invoice}/pay")) == 2   # the 503, then the Retry
    assert stripe.cancellations == [plan]
    assert wordpress.by_email("member@example.com")["roles"] == ["subscriber"]
    history = store.history(member.id)
    effects = [(h.step_id, h.kind) for h in history if h.kind.split(".")[0] in {"wordpress", "orders", "transactions"}]
    assert effects == [("grant-access", "wordpress.access_granted"), ("recharge", "transactions.recharged"),
                       ("cancel-orders", "orders.cancelled"), ("revoke-access", "wordpress.access_revoked")]
    assert {h.step_id for h in history if h.kind == "step.done"} >= {"grant-access", "recharge", "cancel-orders",
                                                                     "revoke-access"}
