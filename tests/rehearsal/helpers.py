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
