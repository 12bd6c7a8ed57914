"""End to end on the local runtime: the routing and integration actions in one map
(tests/e2e/maps/routing-journey.yaml) executing with the real handlers from template.yaml
in-process: the lead router gives the lead an owner (emailed through SES), the webhook goes to a
real HTTP server on 127.0.0.1 (allowed by WEBHOOK_ALLOWED_NETWORKS, signed by a 'webhook'
connection) and its answer is saved on the contact; two virtual hours later the hashed email is
added to a custom audience on a local stand-in for graph.facebook.com."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from automaps import aws as aws_clients
from automaps.store import routing
from automaps.store.contacts import ContactStore
from automaps.store.content import ContentStore
from automaps_local.clock import VirtualClock
from automaps_local.runtime import LocalRuntime
from tests.actions.endpoint import Answer, serving
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

MAP = ROOT / "tests/e2e/maps/routing-journey.yaml"
START = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
AUDIENCE = "23851234567890123"
TOKEN = "EAAB-test-token"
SIGNING_KEY = "whsec_journey"
REPS = {rep["email"] for rep in yaml.safe_load((ROOT / "content/routers/sales.yaml").read_text())["reps"]}


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def connect(name: str, body: dict, secret: str) -> None:
    """GIVEN connection ``name`` pushed, its secret in Secrets Manager."""
    arn = aws_clients.client("secretsmanager").create_secret(Name=f"automaps/connections/{name}",
                                                             SecretString=secret)["ARN"]
    ContentStore().put("CONNECTION", name, {**body, "secret_arn": arn})


def graph(request) -> Answer:
    """Answers like the Graph API's /<audience>/users edge."""
    fields = request.form()
    if fields.get("access_token") != TOKEN:
        return Answer(400, {"error": {"message": "Invalid OAuth access token", "type": "OAuthException",
                                      "code": 190}})
    rows = json.loads(fields["payload"])["data"]
    return Answer(200, {"audience_id": AUDIENCE, "session_id": "9778993", "num_received": len(rows),
                        "num_invalid_entries": 0, "invalid_entry_samples": {}})


@pytest.fixture
def world():
    clock = VirtualClock(START, auto_advance=False)
    with serving() as crm, serving() as facebook, \
            LocalRuntime(ROOT / "template.yaml", clock=clock,
                         environment={"POWERTOOLS_METRICS_DISABLED": "true",
                                      "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32"}) as runtime:
        crm.answer(Answer(201, {"lead": {"id": "L-42", "score": 7}}))
        facebook.answer(graph)
        body = yaml.safe_load((ROOT / "content/routers/sales.yaml").read_text())
        ContentStore().put("ROUTER", "sales", routing.validate(body).model_dump(mode="json"))
        connect("crm", {"type": "webhook"}, SIGNING_KEY)
        connect("facebook", {"type": "facebook", "api_base": facebook.url, "api_version": "v21.0",
                             "default_country": "US"}, json.dumps({"access_token": TOKEN}))
        yield runtime, crm, facebook


def test_given_a_new_lead_then_it_is_routed_sent_to_the_crm_and_two_hours_later_added_to_the_audience(world):
    runtime, crm, facebook = world
    webhook_env: list[str | None] = []
    runtime.listeners.append(lambda function, event, result, error: webhook_env.append(
        os.environ.get("WEBHOOK_ALLOWED_NETWORKS")) if function.logical_id.startswith("SendWebhook") else None)
    map_id = runtime.stack.deploy_map(MAP).map_id
    store = ContactStore()
    lead, _ = store.upsert_by_email("lead@example.com", {"first_name": "Lea"})
    store.create_enrollment(lead.id, map_id, "e_lead", {"type": "form_submitted", "form": "newsletter",
                                                        "fields": {"crm_hook": f"{crm.url}/hooks/leads"}})

    runtime.start_execution(map_id, {"contact_id": lead.id, "enrollment_id": "e_lead", "map_id": map_id},
                            "routing-journey-e_lead")
    runtime.run_until_settled(until=timedelta(hours=1))       # routed and sent, still waiting
    assert len(crm.received) == 1 and facebook.received == []

    assert runtime.run_until_settled(timeout=60)

    [execution] = runtime.executions(map_id)
    assert execution["status"] == "SUCCEEDED", execution
    assert webhook_env == ["127.0.0.1/32"]

    # routed: an owner from the sales router, recorded, and emailed once
    contact = store.require(lead.id)
    owner = contact.fields["owner"]
    assert owner in REPS
    [routed] = store.history(lead.id, ["lead.routed"])
    assert routed.detail["router"] == "sales" and routed.detail["strategy"] == "weighted"
    [notice] = [mail for mail in runtime.outbox()["emails"] if owner in mail["to"]]
    assert notice["to"] == [owner] and notice["subject"] == "New lead for you: Lea"

    # the webhook: one signed request with the rendered body, the answer's lead id saved
    [request] = crm.received
    assert (request.method, request.route) == ("POST", "/hooks/leads")
    assert request.json() == {"email": "lead@example.com", "owner": owner, "source": "newsletter"}
    stamp, digest = [part.split("=", 1)[1] for part in request.headers["x-automaps-signature"].split(",")]
    assert digest == hmac.new(SIGNING_KEY.encode(), f"{stamp}.".encode() + request.body,
                              hashlib.sha256).hexdigest()
    assert contact.fields["crm_id"] == "L-42"
    [sent] = store.history(lead.id, ["webhook.sent"])
    assert sent.detail["signed"] is True and sent.detail["saved"] == ["crm_id"]

    # the audience: one add with the hashed email, two virtual hours after the webhook
    [added] = facebook.received
    assert (added.method, added.route) == ("POST", f"/v21.0/{AUDIENCE}/users")
    assert json.loads(added.form()["payload"]) == {"schema": ["EMAIL_SHA256", "PHONE_SHA256"],
                                                   "data": [[sha("lead@example.com"), ""]]}
    [audience] = store.history(lead.id, ["audience.updated"])
    assert audience.detail["operation"] == "add" and audience.detail["audience_id"] == AUDIENCE
    assert audience.at - sent.at >= timedelta(hours=2)
    assert routed.at <= sent.at
