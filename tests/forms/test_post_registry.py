"""Form posts read the map registry cached (issue 12): a Scan of the content table per post
cost more with every map, locally and on AWS. The cache lives :data:`REGISTRY_SECONDS` per
process and is dropped when this process registers a map, so a new map's form is enrolled by
the next post."""

from __future__ import annotations

import json

import pytest
import yaml

from automaps import aws as aws_clients
from automaps import config
from automaps.journeys.enrollment import MapRecord, Trigger, register
from automaps.store.content import ContentStore
from functions.public_api import app
from tests.conftest import ROOT, load_event

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:automaps-{}"


@pytest.fixture
def scans(aws) -> list[str]:
    """GIVEN the newsletter form and one map it starts; every DynamoDB Scan counted (its table)."""
    ContentStore().put("FORM", "newsletter", yaml.safe_load((ROOT / "content/forms/newsletter.yaml").read_text()))
    register(MapRecord(id="welcome-leads", state_machine_arn=ARN.format("welcome-leads"), version="v1",
                       triggers=[Trigger(type="form_submitted", key="newsletter")]))
    seen: list[str] = []
    aws_clients.client("dynamodb").meta.events.register(
        "provide-client-params.dynamodb.Scan", lambda params, **_: seen.append(params["TableName"]))
    return seen


def post(lambda_context, n: int, event_file: str = "form_post_json.json") -> dict:
    event = load_event(event_file)
    body = json.loads(event["body"]) if event["body"].startswith("{") else None
    if body is not None:
        body["email"] = f"lead{n}@example.com"
        event["body"] = json.dumps(body)
    response = app.lambda_handler(event, lambda_context)
    assert response["statusCode"] == 202, response
    return json.loads(response["body"])


def test_given_many_posts_then_the_registry_is_read_once_not_scanned_per_post(scans, lambda_context):
    # GIVEN a first post, which reads the registries (the form's maps, the router's triggers, segments)
    answers = [post(lambda_context, 0)]
    first = len(scans)
    assert set(scans) == {config.content_table()}

    # WHEN nine more contacts post the form
    answers += [post(lambda_context, n) for n in range(1, 10)]

    # THEN each was queued for the map, and none of those posts scanned anything
    assert all(a["enrollments"] == [{"map_id": "welcome-leads", "outcome": "queued"}] for a in answers)
    assert len(scans) == first


def test_given_a_map_registered_after_a_post_then_the_next_post_enrolls_in_it_too(scans, lambda_context):
    # GIVEN a post, its registry read cached
    assert [e["map_id"] for e in post(lambda_context, 1)["enrollments"]] == ["welcome-leads"]
    first = len(scans)

    # WHEN a second map started by the form is registered in this process
    register(MapRecord(id="welcome-vip", state_machine_arn=ARN.format("welcome-vip"), version="v1",
                       triggers=[Trigger(type="form_submitted", key="newsletter")]))

    # THEN the next post is queued for both maps (the cache was dropped), and later ones read it cached
    assert sorted(e["map_id"] for e in post(lambda_context, 2)["enrollments"]) == ["welcome-leads", "welcome-vip"]
    again = len(scans)
    assert again > first
    post(lambda_context, 3)
    assert len(scans) == again


def test_given_bots_filling_the_honeypot_then_their_decoy_answers_read_the_cached_registry(scans, lambda_context):
    # WHEN a real post and then three bots' posts arrive
    post(lambda_context, 1)
    first = len(scans)
    decoys = [post(lambda_context, n, "form_post_honeypot.json") for n in range(3)]

    # THEN the bots see the map's enrollment as a person would, and no post scanned again
    assert all([e["map_id"] for e in d["enrollments"]] == ["welcome-leads"] for d in decoys)
    assert len(scans) == first

