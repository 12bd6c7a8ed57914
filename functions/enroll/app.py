"""Intake consumer: enrollment requests from the EnrollQueue (SQS event source with
ReportBatchItemFailures), each enrolled into its map or reported failed for a later retry
(automaps.journeys.enroll_queue)."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from automaps.journeys import enroll_queue

logger = Logger()


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return dict(enroll_queue.consume(event, context))
