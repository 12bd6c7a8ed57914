"""Page visits: the tracking snippet (GET /t/snippet.js) and the beacon it sends (POST /t/visit),
recorded as page.visited for visitors identified by a signed visitor token."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import (
    APIGatewayRestResolver,
    CORSConfig,
    Response,
)
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from automaps.intake import visits
from automaps.replies import respond

logger = Logger()
# any site may post beacons; no cookies travel to the API (the token is in the body)
app = APIGatewayRestResolver(cors=CORSConfig(allow_origin="*", max_age=86400))


@app.post("/t/visit")
def visit() -> Response:
    event = app.current_event
    reply, recorded = visits.record_visit(
        event.body, is_base64=bool(event.is_base64_encoded), content_type=event.headers.get("content-type")
    )
    logger.info("page visit", extra={"status": reply.status, "recorded": recorded})
    return respond(reply)


@app.get("/t/snippet.js")
def snippet() -> Response:
    return respond(visits.snippet())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
