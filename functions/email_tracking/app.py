"""Public API: the open pixel (``GET /t/o/{token}``, a 1x1 GIF, records ``email.opened``) and click
redirect (``GET /t/c/{token}``, 302 to the signed destination, records ``email.clicked``) of
emails sent through SMTP connections. Tokens that are not ours record nothing (automaps.intake.engagement).
"""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from automaps.intake import engagement
from automaps.replies import respond

logger = Logger()
app = APIGatewayRestResolver()


def _request() -> engagement.TrackingRequest:
    context = app.current_event.request_context
    return engagement.TrackingRequest.of(context.request_id, context.request_time_epoch)


@app.get("/t/o/<token>")
def open_pixel(token: str) -> Response:
    return respond(engagement.open_pixel(token, _request()))


@app.get("/t/c/<token>")
def click_redirect(token: str) -> Response:
    return respond(engagement.click_redirect(token, _request()))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
