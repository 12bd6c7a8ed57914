"""Segment sweep: every hour (an EventBridge Scheduler schedule), the contacts whose membership
time alone may have changed ("opened an email in the last 30 days") are re-evaluated: only those
due, never the whole table (automaps.journeys.segments.sweep)."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from automaps.journeys import segments

logger = Logger()
RESERVE_MS = 60_000  # stop with a minute left; the rest is due again at the next run


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return segments.sweep(more_time=lambda: context.get_remaining_time_in_millis() > RESERVE_MS)
