"""Task resolve_wait: when does this contact's ``wait`` end, or their action with ``when`` run?

Reads the contact's fields and timezone and returns ``{"at": "<UTC>Z", "skip": bool}``; the
state machine stores it under ``$.timers.<step>``, skips when told to (the action, or for a wait
the rest of the map) and otherwise waits until ``at``. A moment already past comes back as now.
A missed moment that is skipped, and a date field that gives no moment, are recorded on the
contact's history as ``step.skipped`` with the reason (docs/map-format.md, "When to run"), once
per visit of the state. Throttling leaves as ``TransientError`` (the Task retries it); a failure
past the retries sends the contact out of the map (``wait_failed``, or the map's ``on_error``).
"""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from automaps import clock
from automaps.contacts import ContactStore
from automaps.journey import Visit, record_for_visit, transient_errors_retried
from automaps.maps.resolve import resolve, skips
from automaps.timing import WaitSpec, When

logger = Logger()
THEN = {"action": "the action did not run", "run": "went on without waiting", "skip": "left the map"}


class ResolveWaitRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    contact_id: str = Field(min_length=1)
    enrollment_id: str | None = None
    map_id: str
    step_id: str
    wait: dict[str, Any] | None = None
    when: dict[str, Any] | None = None
    fallback_timezone: str | None = None


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    request = ResolveWaitRequest.model_validate(event)
    logger.thread_safe_append_keys(map_id=request.map_id, step_id=request.step_id)
    action = request.when is not None
    spec = When.model_validate(request.when) if action else WaitSpec.model_validate(request.wait)
    store = ContactStore()
    with transient_errors_retried():
        contact = store.get(request.contact_id)
        fields, timezone = (contact.fields, contact.timezone) if contact else ({}, None)
        moment = resolve(spec, fields, timezone, request.fallback_timezone, clock.now())
        skip = skips(spec, moment, action=action)
        if moment.missed:
            logger.info("the moment cannot be kept", extra={"reason": moment.missed, "skip": skip})
        if contact and moment.missed and (skip or moment.no_date):
            then = THEN["action"] if action else THEN["skip" if skip else "run"]
            record_for_visit(
                store,
                Visit.of(event),
                contact.id,
                "step.skipped",
                {"reason": moment.missed, "then": then, "enrollment_id": request.enrollment_id},
                map_id=request.map_id,
                step_id=request.step_id,
            )
    return {"at": clock.iso(moment.at), "skip": skip}
