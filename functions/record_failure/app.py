"""Task record_failure: a step failed after its retries, or its function crashed or timed out
(the state's Catch put the error under ``$.error``). Records what the step's effect markers say
happened (``step.failed``, or ``email.sent`` and ``step.done``, or ``step.outcome_unknown``:
automaps.journeys.journey.record_failure); the contact moves on.
"""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from automaps.journeys.journey import FailureRecord, record_failure

logger = Logger()


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    failure = FailureRecord.model_validate(event)
    logger.thread_safe_append_keys(map_id=failure.map_id, step_id=failure.step_id)
    record_failure(failure)
    return {}
