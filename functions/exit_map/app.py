"""Task exit_map: the contact leaves the map. Marks the enrollment exited and records
``map.exited`` once, however often it is retried.
"""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from automaps import snapstart
from automaps.journeys.journey import ExitRequest, exit_map

logger = Logger()
snapstart.prime("automaps.journeys.enrollment", "automaps.journeys.moves")  # exit_map imports them when it runs


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    request = ExitRequest.model_validate(event)
    logger.thread_safe_append_keys(map_id=request.map_id, step_id=request.step_id)
    exited = exit_map(request)
    logger.info("map exit handled", extra={"exited": exited, "reason": request.reason})
    return {}
