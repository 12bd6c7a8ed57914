"""Action add_purchase: add a product to the purchase history and fire the purchase event.

The Task state invokes this with the action task event (docs/architecture.md); the shared step
runner handles idempotency, ``only_if``, the missing-fields policy and recording the outcome.
"""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from automaps import snapstart
from automaps.journeys.steps import run_action

logger = Logger()
snapstart.prime("automaps.actions.add_purchase")  # in the SnapStart snapshot


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return run_action(event, context)
