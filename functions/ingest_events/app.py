"""Ingestion endpoint: course platform events and purchases, signed like Stripe's webhooks
(``Automaps-Signature: t=...,v1=...``), each recorded once per event id on the contact's history."""

import json

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from automaps.intake import ingest
from automaps.replies import respond

logger = Logger()
app = APIGatewayRestResolver()


@app.post("/ingest/events")
def ingest_events() -> Response:
    event = app.current_event
    reply = ingest.request(event.body, bool(event.is_base64_encoded), event.headers.get(ingest.SIGNATURE_HEADER))
    if reply.status == 200:
        counts = json.loads(reply.body)
        logger.info("events ingested", extra={k: counts[k] for k in ("accepted", "duplicate", "rejected")})
    else:
        logger.warning("ingestion refused", extra={"status": reply.status})
    return respond(reply)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
