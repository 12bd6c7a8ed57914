"""Public API: form submissions (JSON or HTML form posts) and one-click unsubscribe."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from automaps.api import web
from automaps.replies import respond

logger = Logger()
app = APIGatewayRestResolver()


@app.post("/forms/<form_id>")
def submit_form(form_id: str) -> Response:
    event = app.current_event
    return respond(
        web.submit_form(
            form_id,
            event.body,
            event.headers.get("content-type"),
            event.headers.get("accept"),
            idempotency_key=event.headers.get("idempotency-key"),
            is_base64=bool(event.is_base64_encoded),
        )
    )


@app.get("/unsubscribe")
def unsubscribe_page() -> Response:
    return respond(web.unsubscribe_page(app.current_event.query_string_parameters.get("t", "")))


@app.post("/unsubscribe")
def unsubscribe() -> Response:
    return respond(web.unsubscribe(app.current_event.query_string_parameters.get("t", "")))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
