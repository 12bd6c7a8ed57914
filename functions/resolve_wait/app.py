"""Task resolve_wait: when does this contact's ``wait`` end, or their action with ``when`` run?

Reads the contact's fields and timezone and returns ``{"at": "<UTC>Z", "skip": bool}``; the
state machine stores it under ``$.timers.<step>``, skips when told to (the action, or for a wait
the rest of the map) and otherwise waits until ``at``. A moment already past comes back as now.
A missed moment that is skipped, and a date field that gives no moment, are recorded on the
contact's history as ``step.skipped`` with the reason (docs/map-format.md, "When to run"), once
per visit of the state. Throttling leaves as ``TransientError`` (the Task retries it); a failure
past the retries sends the contact out of the map (``wait_failed``, or the map's ``on_error``).
"""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from automaps.journeys.journey import WaitRequest, resolve_wait

logger = Logger()


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    request = WaitRequest.model_validate(event)
    logger.thread_safe_append_keys(map_id=request.map_id, step_id=request.step_id)
    return resolve_wait(request)
