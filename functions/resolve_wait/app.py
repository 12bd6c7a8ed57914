"""Task resolve_wait: when does this contact's ``wait`` end?

Reads the contact's fields and timezone and returns ``{"at": "<UTC>Z"}``; the state machine
stores it under ``$.timers.<step>`` and waits until then. A time already past comes back as now,
so the contact moves on at once. A missing or unreadable ``until_field`` raises, and the state's
Catch records the failure.
"""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from automaps import clock
from automaps.contacts import ContactStore
from automaps.maps.resolve import resolve_wait

logger = Logger()


class ResolveWaitRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    contact_id: str = Field(min_length=1)
    map_id: str
    step_id: str
    wait: dict[str, Any]
    fallback_timezone: str = "UTC"


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    request = ResolveWaitRequest.model_validate(event)
    logger.thread_safe_append_keys(map_id=request.map_id, step_id=request.step_id)
    contact = ContactStore().get(request.contact_id)
    fields, timezone = (contact.fields, contact.timezone) if contact else ({}, None)
    now = clock.now()
    at = resolve_wait(request.wait, fields, timezone, request.fallback_timezone, now)
    if at <= now:
        logger.info("the wait is already over; the contact moves on at once", extra={"wait": request.wait})
    return {"at": clock.iso(at)}
