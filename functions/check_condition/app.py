"""Task check_condition: decide an if/switch branch for the contact, or whether a goal or
wait_until step is met (``awaits``: automaps.journeys.goals.check_awaited).

Returns ``{"result": bool}`` for an ``if``, ``{"case": index}`` for a ``switch`` (-1: no case
matched); the state stores it under ``$.checks.<state>``. Records
``condition.evaluated`` with the inputs the condition looked at, so the history says why.
"""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from automaps import snapstart
from automaps.journeys.journey import ConditionCheck, check_condition

logger = Logger()
snapstart.prime("automaps.journeys.goals")  # the awaits path's: imported there, and before a snapshot


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    if "awaits" in event:  # a goal or wait_until step: met now, or wait (automaps.journeys.goals)
        from automaps.journeys.goals import AwaitCheck, check_awaited

        awaited = AwaitCheck.model_validate(event)
        logger.thread_safe_append_keys(map_id=awaited.map_id, step_id=awaited.step_id)
        return check_awaited(awaited)
    check = ConditionCheck.model_validate(event)
    logger.thread_safe_append_keys(map_id=check.map_id, step_id=check.step_id)
    answer = check_condition(check)
    logger.info("condition evaluated", extra=answer)
    return answer
