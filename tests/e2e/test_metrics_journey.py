"""Journey metrics (automaps.journeys.metrics): the router counts every history entry a map wrote,
by map and step, and writes the counts of a stream batch once, as CloudWatch EMF on stdout."""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from werkzeug.test import Client

from automaps.journeys import metrics, router
from automaps.store.contacts import HistoryEntry
from automaps_local.clock import VirtualClock
from automaps_local.http import LocalApi
from automaps_local.runtime import LocalRuntime
from automaps_local.serve import push_content
from tests.conftest import ROOT, load_event
from tests.e2e.conftest import START

pytestmark = pytest.mark.slow


def journey_documents(stdout: str) -> list[dict[str, Any]]:
    """The EMF documents on stdout that count journeys (dimension ``map``)."""
    documents = [json.loads(line) for line in stdout.splitlines() if line.startswith('{"_aws"')]
    return [d for d in documents if "map" in d]


def totals(documents: list[dict[str, Any]]) -> Counter[tuple[str, str, str]]:
    """(map, step, metric) -> the sum of its values (EMF arrays: one value a metric here) over the documents."""
    found: Counter[tuple[str, str, str]] = Counter()
    for document in documents:
        for definition in document["_aws"]["CloudWatchMetrics"]:
            for metric in definition["Metrics"]:
                found[(document["map"], document.get("step", ""), metric["Name"])] += sum(document[metric["Name"]])
    return found


def test_given_a_newsletter_signup_when_the_welcome_journey_runs_then_its_outcomes_are_counted_by_map_and_step(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN the backend with metrics on (the other journeys turn them off), welcome-leads pushed
    with LocalRuntime(ROOT / "template.yaml", clock=VirtualClock(START, auto_advance=False),
                      environment={"POWERTOOLS_METRICS_DISABLED": "false"}, schedule_events=False) as runtime:
        push_content(runtime)
        api = Client(LocalApi(runtime))
        capsys.readouterr()

        # WHEN Jane signs up, the welcome email goes out and she opens it
        body = json.loads(load_event("form_post_json.json")["body"])
        api.post("/forms/newsletter", data=json.dumps(body), headers={"Content-Type": "application/json"})
        runtime.run_until_settled(until=timedelta(hours=1))
        [welcome] = runtime.outbox()["emails"]
        runtime.ses_event(welcome["id"], "Open")
        runtime.run_until_settled(until=timedelta(hours=2))
        history = runtime.contact(email="jane.doe@example.com")["history"]

    # THEN every entry welcome-leads wrote is counted once, under its map and step
    documents = journey_documents(capsys.readouterr().out)
    counted = totals(documents)
    expected = Counter((h["map_id"], h.get("step_id") or "", metrics.metric_name(h["kind"]))
                       for h in history if h.get("map_id"))
    assert counted == expected
    assert counted[("welcome-leads", "", "MapEnrolled")] == 1
    assert counted[("welcome-leads", "tag-lead", "StepDone")] == 1
    assert counted[("welcome-leads", "welcome-email", "StepDone")] == 1
    assert counted[("welcome-leads", "welcome-email", "EmailSent")] == 1
    assert counted[("welcome-leads", "welcome-email", "EmailOpened")] == 1
    # AND each document is EMF of the Automaps namespace, one dimension set: map, step, service
    for document in documents:
        [definition] = document["_aws"]["CloudWatchMetrics"]
        assert definition["Namespace"] == "Automaps"   # the template's POWERTOOLS_METRICS_NAMESPACE
        assert sorted(definition["Dimensions"][0]) == sorted(["map", "service", *(["step"] if "step" in document else [])])
        assert all(m["Unit"] == "Count" for m in definition["Metrics"])
        assert isinstance(document["_aws"]["Timestamp"], int)


def test_given_a_batch_with_a_step_twice_and_a_failed_entry_then_one_document_counts_the_routed_ones(
    aws: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a stream batch of four history entries of one map's step: two done, an email sent,
    # and one the router fails on (it will be delivered again, and counted then)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    entries = [
        HistoryEntry(at=START, kind=kind, map_id="spring-promo", step_id="promo-email", detail={"n": n})
        for n, kind in enumerate(["step.done", "step.done", "email.sent", "step.failed"])
    ]
    original = router.route_entry

    def route_entry(contact_id: str, sort_key: str, entry: HistoryEntry) -> None:
        if entry.kind == "step.failed":
            raise RuntimeError("router down")
        original(contact_id, sort_key, entry)

    monkeypatch.setattr(router, "route_entry", route_entry)
    capsys.readouterr()

    # WHEN the router takes the batch
    answer = router.handle({"Records": [stream_record(f"H#{n}", entry) for n, entry in enumerate(entries)]}, None)

    # THEN the failed record is reported, and the three routed entries make one EMF document
    assert answer["batchItemFailures"] == [{"itemIdentifier": "seq-3"}]
    [document] = journey_documents(capsys.readouterr().out)
    assert (document["map"], document["step"]) == ("spring-promo", "promo-email")
    assert {m["Name"] for m in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]} == {"StepDone", "EmailSent"}
    assert (document["StepDone"], document["EmailSent"]) == ([2.0], [1.0])
    assert document["_aws"]["CloudWatchMetrics"][0]["Namespace"] == os.environ["POWERTOOLS_METRICS_NAMESPACE"]


def test_given_history_kinds_then_their_metric_names_are_camel_case_as_the_per_action_counts() -> None:
    assert metrics.metric_name("step.done") == "StepDone"
    assert metrics.metric_name("step.outcome_unknown") == "StepUnknown"
    assert metrics.metric_name("map.enroll_skipped") == "MapEnrollSkipped"
    assert metrics.metric_name("email.sent") == "EmailSent"


def stream_record(sort_key: str, entry: HistoryEntry) -> dict[str, Any]:
    """A DynamoDB stream record of a history entry's INSERT, as Lambda delivers it."""
    from automaps.store import contacts

    image = contacts._history_item("c-1", entry)
    image["sk"] = {"S": f"{sort_key}#{entry.at.isoformat()}"}
    return {"eventID": sort_key, "eventName": "INSERT", "eventSource": "aws:dynamodb",
            "dynamodb": {"NewImage": image, "SequenceNumber": f"seq-{sort_key.removeprefix('H#')}",
                         "StreamViewType": "NEW_IMAGE"}}
