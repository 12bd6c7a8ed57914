"""The team's console on the admin API: the page (public, no data) and the JSON it reads (Cognito sign-in)."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from automaps.api import console
from automaps.replies import respond

logger = Logger()
app = APIGatewayRestResolver(strip_prefixes=["/console"])


@app.get("/")
def page() -> Response:
    event = app.current_event
    return respond(console.page(console.base_of(event.request_context.path, event.path)))


@app.get("/static/<name>")
def asset(name: str) -> Response:
    return respond(console.asset(name))


@app.get("/settings")
def settings() -> Response:
    return respond(console.settings())


@app.get("/api/maps")
def maps() -> Response:
    return respond(console.maps())


@app.get("/api/maps/<map_id>")
def map_detail(map_id: str) -> Response:
    return respond(console.map_detail(map_id))


@app.get("/api/contacts")
def search() -> Response:
    return respond(console.search(app.current_event.query_string_parameters or {}))


@app.get("/api/contacts/<contact_id>")
def contact(contact_id: str) -> Response:
    return respond(console.contact(contact_id, app.current_event.query_string_parameters or {}))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
