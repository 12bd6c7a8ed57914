"""Admin API (IAM auth): contacts (search, read, explain, enroll/remove by hand, import, export, erase, data)."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from automaps.api import contacts
from automaps.replies import respond

logger = Logger()
app = APIGatewayRestResolver()


def _query() -> dict[str, str]:
    return app.current_event.query_string_parameters or {}


def _caller() -> str | None:
    """Who signed the request (SigV4): the IAM user or role ARN API Gateway verified."""
    identity = app.current_event.request_context.identity
    return identity.user_arn or identity.caller or None


@app.get("/contacts")
def search() -> Response:
    return respond(contacts.search(_query()))


@app.post("/contacts/import")
def import_contacts() -> Response:
    return respond(contacts.import_contacts(app.current_event.decoded_body, _query()))


@app.get("/contacts/export")
def export() -> Response:
    return respond(contacts.export(_query()))


@app.get("/contacts/<contact_id>")
def read(contact_id: str) -> Response:
    return respond(contacts.read(contact_id, _query()))


@app.delete("/contacts/<contact_id>")
def erase(contact_id: str) -> Response:
    return respond(contacts.erase(contact_id, _query(), _caller()))


@app.get("/contacts/<contact_id>/data")
def data(contact_id: str) -> Response:
    return respond(contacts.data(contact_id))


@app.get("/contacts/<contact_id>/explain")
def explain(contact_id: str) -> Response:
    return respond(contacts.explain(contact_id, _query()))


@app.post("/contacts/<contact_id>/enrollments")
def enroll(contact_id: str) -> Response:
    key = app.current_event.headers.get("Idempotency-Key")
    return respond(contacts.enroll(contact_id, app.current_event.decoded_body, key, _caller()))


@app.delete("/contacts/<contact_id>/enrollments/<map_id>")
def remove(contact_id: str, map_id: str) -> Response:
    return respond(contacts.remove(contact_id, map_id, _caller()))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
