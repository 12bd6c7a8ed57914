"""Router: history entries from the ContactsTable's stream (DynamoDB event source, INSERTs of H#
items, ReportBatchItemFailures), each handed to the maps it triggers and the goals and waits it
achieves (automaps.journeys.router)."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from automaps.journeys import router

logger = Logger()


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return dict(router.handle(event, context))
