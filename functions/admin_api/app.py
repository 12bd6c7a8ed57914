"""Admin API (IAM auth): team members' tasks (list, complete), fulfillment list exports and the
numbers per map and step (GET /stats, GET /stats/{map_id})."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from automaps.api import admin, stats
from automaps.replies import respond

logger = Logger()
app = APIGatewayRestResolver()


def _caller() -> str | None:
    """Who signed the request (SigV4): the IAM user or role ARN API Gateway verified."""
    identity = app.current_event.request_context.identity
    return identity.user_arn or identity.caller or None


@app.get("/tasks")
def list_tasks() -> Response:
    return respond(admin.list_tasks(app.current_event.query_string_parameters or {}))


@app.post("/tasks/<task_id>/complete")
def complete_task(task_id: str) -> Response:
    return respond(admin.complete_task(task_id, app.current_event.decoded_body, _caller()))


@app.get("/fulfillment/<name>")
def export_fulfillment(name: str) -> Response:
    return respond(admin.export_fulfillment(name, app.current_event.query_string_parameters or {}))


@app.get("/stats")
def all_stats() -> Response:
    return respond(stats.read_all())


@app.get("/stats/<map_id>")
def map_stats(map_id: str) -> Response:
    return respond(stats.read(map_id))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
