"""Answers for the operations moto 5.2.5 does not implement (sesv2 GetAccount and
GetConfigurationSetEventDestinations; all of pinpoint-sms-voice-v2; bedrock's foundation-model
operations): one operation of a client answered by botocore's before-call event, the others
still reach moto; a whole service moto lacks through botocore's Stubber."""

from __future__ import annotations

from typing import Any


def answer(client: Any, operation: str, response: dict | Any) -> None:
    """``client``'s ``operation`` (e.g. "GetAccount") answers ``response`` (or ``response(params)``)."""
    from botocore.awsrequest import AWSResponse

    def keep(params: dict, context: dict, **_: Any) -> None:
        context["api_params"] = dict(params)

    def handler(context: dict, **_: Any) -> tuple[AWSResponse, dict]:
        params = context.get("api_params", {})
        body = response(params) if callable(response) else response
        return AWSResponse("https://stubbed", 200, {}, None), {"ResponseMetadata": {"HTTPStatusCode": 200}, **body}

    service = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register(f"before-parameter-build.{service}.{operation}", keep)
    client.meta.events.register(f"before-call.{service}.{operation}", handler)


def event_destinations_from_moto(client: Any) -> None:
    """sesv2 GetConfigurationSetEventDestinations answered from what moto's SES backend holds
    (the stack's AWS::SES::ConfigurationSetEventDestination, created by the rehearsal)."""
    from moto.ses.models import ses_backends

    def destinations(params: dict) -> dict:
        backend = ses_backends["123456789012"][client.meta.region_name]
        found = backend.config_set_event_destination.get(params["ConfigurationSetName"])
        return {"EventDestinations": [found] if found else []}

    answer(client, "GetConfigurationSetEventDestinations", destinations)


WELCOME_COUNTED_AT = "2026-11-23T14:00:00+00:00"


def count_on_stack(rehearsal: Any, monkeypatch: Any, written: list[tuple[str, str, str | None, dict]]) -> None:
    """GIVEN welcome-leads registered on the rehearsal stack and the router's count of one stream
    batch of these history entries (contact, kind, step, detail) in the stack's contacts table;
    the environment is left pointing nowhere again (the command under test finds the stack)."""
    from datetime import datetime

    from automaps import aws as aws_clients
    from automaps.journeys import router
    from automaps.maps.loader import load_map
    from automaps.store import contacts
    from automaps.store.contacts import HistoryEntry
    from automaps.store.content import ContentStore
    from automaps_local.push import map_record
    from tests.conftest import ROOT

    aws_clients.reset()
    machine = rehearsal.physical["WelcomeLeadsStateMachine"]
    record = map_record(load_map(ROOT / "maps" / "welcome-leads.yaml"), machine, "v1")
    ContentStore(rehearsal.physical["ContentTable"]).put("MAP", "welcome-leads", record.model_dump(mode="json"))
    monkeypatch.setenv("CONTACTS_TABLE", rehearsal.physical["ContactsTable"])
    monkeypatch.setenv("CONTENT_TABLE", rehearsal.physical["ContentTable"])
    at = datetime.fromisoformat(WELCOME_COUNTED_AT)
    records = []
    for n, (contact, kind, step, detail) in enumerate(written):
        image = contacts._history_item(
            contact, HistoryEntry(at=at, kind=kind, map_id="welcome-leads", step_id=step, detail=detail)
        )
        records.append({"eventID": str(n), "eventName": "INSERT", "eventSourceARN": "stream",
                        "dynamodb": {"NewImage": image, "SequenceNumber": str(100 + n)}})
    monkeypatch.setattr(router, "route_entry", lambda *args: None)  # (the stack has no queue to enroll on here)
    assert router.handle({"Records": records}, None)["batchItemFailures"] == []
    monkeypatch.delenv("CONTACTS_TABLE")
    monkeypatch.delenv("CONTENT_TABLE")
