"""add_to_lead_router: give the contact an owner from a lead router (round robin, weighted or
first available; automaps.routing) and tell the owner by email.

The contact's ``owner`` field is set to the rep's email (``lead.routed`` on the history). The
notification is plain staff mail through SES (no unsubscribe footer); if it cannot be sent, the
lead stays routed and the step says so in its detail rather than routing the lead again.
"""

from __future__ import annotations

import html as html_lib
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from automaps import config, routing
from automaps.contacts import mask_email
from automaps.steps import PermanentError, Skip, StepContext, TransientError

DEFAULT_SUBJECT = "New lead for you: {{ contact.first_name | default('') }} {{ contact.last_name | default('') }}"
DEFAULT_MESSAGE = """A new lead was routed to you.

Name: {{ contact.first_name | default('') }} {{ contact.last_name | default('') }}
Email: {{ contact.email | default('-') }}
Phone: {{ contact.phone | default('-') }}
Contact id: {{ contact.id }}
"""


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    router: str = Field(min_length=1, description="name of a lead router (content/routers/<name>.yaml)")
    reassign: bool = Field(default=False, description="route a contact that already has an owner again")
    notify: bool = Field(default=True, description="email the new owner")
    subject: str = Field(default=DEFAULT_SUBJECT, min_length=1, description="merge fields allowed")
    message: str = Field(default=DEFAULT_MESSAGE, min_length=1, description="plain text; merge fields allowed")


def run(ctx: StepContext, settings: Settings) -> dict[str, Any]:
    current = ctx.contact.fields.get("owner")
    if current and not settings.reassign:
        raise Skip("the contact already has an owner", {"owner": mask_email(str(current))})
    try:
        router = routing.load(settings.router)
    except routing.UnknownRouter as error:
        raise PermanentError(str(error)) from None
    # rendered before routing, so a missing merge field leaves no half-routed lead
    subject = " ".join(ctx.render(settings.subject, where=f"the subject of step {ctx.event.step_id!r}").split())
    message = ctx.render(settings.message, where=f"the message of step {ctx.event.step_id!r}")

    rep, turn = routing.assign(settings.router, router)
    if rep is None:
        raise PermanentError(f"no sales rep of router {settings.router!r} is available", {"router": settings.router})
    ctx.store.update_fields(ctx.contact.id, {"owner": rep.email})
    routed = {"router": settings.router, "strategy": router.strategy, "owner": mask_email(rep.email),
              "rep": rep.name, "turn": turn}
    if current:
        routed["previous_owner"] = mask_email(str(current))
    ctx.record_effect("lead.routed", routed)
    if settings.notify:
        routed.update(_notify(rep.email, subject, message))
    return routed


def _notify(to: str, subject: str, message: str) -> dict[str, Any]:
    from automaps.channels import email

    body = f"<p>{html_lib.escape(message).strip().replace(chr(10), '<br>')}</p>"
    try:
        message_id = email.send(to=to, subject=subject or "New lead", html=body, text=message,
                                sender=config.email_from(), configuration_set=config.ses_configuration_set())
    except (PermanentError, TransientError) as error:
        return {"notified": False, "notify_error": str(error)}
    return {"notified": True, "message_id": message_id}
