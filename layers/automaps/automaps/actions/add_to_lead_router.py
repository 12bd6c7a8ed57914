"""add_to_lead_router: give the contact an owner from a lead router (round robin, weighted or
first available; automaps.store.routing) and tell the owner by email.

The contact's ``owner`` field is set to the rep's email (``lead.routed`` on the history). The
notification is plain staff mail through SES (no unsubscribe footer); if it cannot be sent, the
lead stays routed and the step says so in its detail rather than routing the lead again.
"""

from __future__ import annotations

import html as html_lib
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from automaps import config
from automaps.journeys.steps import Outcome, PermanentError, Skip, StepContext, TransientError
from automaps.store import routing
from automaps.store.contacts import mask_email

DEFAULT_SUBJECT = "New lead for you: {{ contact.first_name | default('') }} {{ contact.last_name | default('') }}"
DEFAULT_MESSAGE = """A new lead was routed to you.

Name: {{ contact.first_name | default('') }} {{ contact.last_name | default('') }}
Email: {{ contact.email | default('-') }}
Phone: {{ contact.phone | default('-') }}
Contact id: {{ contact.id }}
"""


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"examples": [{"router": "sales-team"}]})

    router: str = Field(min_length=1, description="name of a lead router (content/routers/<name>.yaml)")
    reassign: bool = Field(default=False, description="route a contact that already has an owner again")
    notify: bool = Field(default=True, description="email the new owner")
    subject: str = Field(default=DEFAULT_SUBJECT, min_length=1, description="merge fields allowed")
    message: str = Field(default=DEFAULT_MESSAGE, min_length=1, description="plain text; merge fields allowed")


def run(ctx: StepContext, settings: Settings) -> dict[str, Any] | Outcome:
    from automaps.journeys import once

    done = once.recorded(ctx)
    if done is not None:  # routed and recorded by this visit: tell the owner unless that was tried
        if settings.notify:
            rep_email = str(ctx.contact.fields.get("owner") or "")
            done.detail.update(
                _notify_once(ctx, rep_email, *_texts(ctx, settings))
                if rep_email
                else {"notified": False, "notify_error": "the contact has no owner any more"}
            )
        return done
    try:
        router = routing.load(settings.router)
    except routing.UnknownRouter as error:
        raise PermanentError(str(error)) from None
    visit = ctx.event.idempotency_key
    given = routing.assignment(settings.router, router, visit)  # a retry of a visit that took its turn
    current = ctx.contact.fields.get("owner")
    if current and not settings.reassign and given is None:
        raise Skip("the contact already has an owner", {"owner": mask_email(str(current))})
    subject, message = _texts(ctx, settings)  # before routing: a missing merge field leaves no half-routed lead

    rep, turn = given or routing.assign(settings.router, router, visit=visit)
    if rep is None:
        raise PermanentError(f"no sales rep of router {settings.router!r} is available", {"router": settings.router})
    routed: dict[str, Any] = {
        "router": settings.router,
        "strategy": router.strategy,
        "owner": mask_email(rep.email),
        "rep": rep.name,
        "turn": turn,
    }
    if current:
        routed["previous_owner"] = mask_email(str(current))
    effect = once.effect(ctx, "lead.routed")
    ctx.store.update_fields(ctx.contact.id, {"owner": rep.email}, effect=effect, describe=lambda _b, _a: routed)
    if ctx.store.visit_effect(ctx.contact.id, visit) is None:  # the owner was already this rep: nothing written
        ctx.store.record_effect(ctx.contact.id, effect, routed)
    if settings.notify:
        routed.update(_notify_once(ctx, rep.email, subject, message))
    return routed


def _texts(ctx: StepContext, settings: Settings) -> tuple[str, str]:
    subject = " ".join(ctx.render(settings.subject, where=f"the subject of step {ctx.event.step_id!r}").split())
    return subject, ctx.render(settings.message, where=f"the message of step {ctx.event.step_id!r}")


def _notify_once(ctx: StepContext, to: str, subject: str, message: str) -> dict[str, Any]:
    """Tell the owner once per visit (automaps.journeys.effects): a retry gets the stored answer; an email
    whose answer was lost is not sent again, and the lead stays routed."""
    from automaps.journeys.steps import OutcomeUnknown

    try:
        return ctx.once("notify_owner", lambda: _notify(to, subject, message))
    except OutcomeUnknown as unknown:
        return {"notified": "unknown", "notify_error": unknown.reason}


def _notify(to: str, subject: str, message: str) -> dict[str, Any]:
    from automaps.channels import email

    body = f"<p>{html_lib.escape(message).strip().replace(chr(10), '<br>')}</p>"
    try:
        message_id = email.send(
            to=to,
            subject=subject or "New lead",
            html=body,
            text=message,
            sender=config.email_from(),
            configuration_set=config.ses_configuration_set(),
        )
    except (PermanentError, TransientError) as error:
        return {"notified": False, "notify_error": str(error)}
    return {"notified": True, "message_id": message_id}
