"""send_sms: render a text with merge fields and send it to the contact's phone."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from automaps import config, rendering
from automaps.channels import sms
from automaps.contacts import mask_phone
from automaps.steps import Skip, StepContext


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = Field(min_length=1, max_length=1600)
    to: str | None = Field(default=None, description="merge expression; defaults to the contact's phone")
    sender_id: str | None = None


def run(ctx: StepContext, settings: Settings) -> dict[str, Any]:
    context = _merge_context(ctx, settings)
    written = _recipient(ctx, settings, context)
    if "sms" in ctx.contact.unsubscribed:
        raise Skip("the contact unsubscribed from SMS")
    number = sms.to_e164(written, _country(ctx))
    text = rendering.render(settings.text, context, where=f"the text of step {ctx.event.step_id!r}")
    message_id = sms.send(to=number, text=text, sender_id=settings.sender_id or config.sms_sender_id())
    sent = {"message_id": message_id, "to": mask_phone(number)}
    ctx.record_effect("sms.sent", sent)
    return sent


def _merge_context(ctx: StepContext, settings: Settings) -> dict[str, Any]:
    """The merge fields, fetching the enrollment's event only when the text uses it."""
    used = rendering.referenced_variables(settings.text, settings.to)
    trigger = ctx.trigger_event() if used & {"event", "offer"} else {}
    offer = trigger.get("offer")
    return rendering.merge_context(ctx.contact, trigger, offer if isinstance(offer, dict) else None)


def _recipient(ctx: StepContext, settings: Settings, context: dict[str, Any]) -> str:
    if settings.to:
        number = rendering.render(settings.to, context, where=f"the 'to' of step {ctx.event.step_id!r}")
    else:
        number = str(ctx.contact.phone or "")
    if not number.strip():
        raise Skip("the contact has no phone number")
    return number.strip()


def _country(ctx: StepContext) -> str | None:
    """The contact's country (ISO 3166 alpha-2), which places a number written without +CC."""
    country = ctx.contact.fields.get("country")
    return country.upper() if isinstance(country, str) and len(country) == 2 else None
