"""send_sms: render a text with merge fields and send it to the contact's phone, through Amazon
SNS (``provider: sns``, the default) or AWS End User Messaging SMS (``provider:
end_user_messaging``, from the sending number chosen in ``from``).

A contact without a phone number, or a text whose merge field has no value, is a recorded skip:
a literal placeholder never reaches a customer. The map's sending limits (quiet hours, frequency
caps: automaps.channels.limits) may defer or skip it, and the sending identity's messages per
second (``SMS_SEND_RATE``, automaps.channels.rates) may defer it to a later second; ``marketing:
false`` texts are neither capped nor counted by ``kinds: marketing`` caps.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from automaps import config, rendering
from automaps.channels import end_user_messaging, limits, sms
from automaps.journeys.steps import Outcome, Skip, StepContext
from automaps.store.contacts import mask_phone


class Settings(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        json_schema_extra={"examples": [{"text": "See you at {{ contact.webinar_at }}! Reply STOP to opt out."}]},
    )

    text: str = Field(
        min_length=1, max_length=1600, description="the message (at most 1,600 characters); merge fields allowed"
    )
    to: str | None = Field(default=None, description="merge expression; defaults to the contact's phone")
    provider: Literal["sns", "end_user_messaging"] = Field(
        default="sns", description="sns (Amazon SNS) or end_user_messaging (AWS End User Messaging SMS)"
    )
    sender_id: str | None = Field(default=None, description="sns: the alphanumeric sender ID")
    from_: str | None = Field(
        default=None,
        alias="from",
        min_length=1,
        max_length=256,
        description="end_user_messaging: the sending phone number (E.164), sender ID, pool id or ARN",
    )
    message_type: Literal["promotional", "transactional"] = Field(
        default="promotional", description="end_user_messaging: the message type"
    )
    configuration_set: str | None = Field(
        default=None, min_length=1, description="end_user_messaging: configuration set for events"
    )
    marketing: bool = Field(
        default=True, description="a marketing text (counted by the map's marketing frequency caps)"
    )

    @model_validator(mode="after")
    def _provider_settings(self) -> Settings:
        if self.provider == "end_user_messaging":
            if not self.from_:
                raise ValueError(
                    "provider end_user_messaging needs 'from': the sending phone number (E.164), "
                    "sender ID or pool of your End User Messaging account"
                )
            if self.sender_id:
                raise ValueError("sender_id is for provider sns; with end_user_messaging put the sender in 'from'")
        else:
            wrong = [
                name for name, value in (("from", self.from_), ("configuration_set", self.configuration_set)) if value
            ]
            if wrong or self.message_type != "promotional":
                names = ", ".join(wrong or ["message_type"])
                raise ValueError(
                    f"{names}: only for provider end_user_messaging; set provider: end_user_messaging "
                    f"or use sender_id with sns"
                )
        return self


def run(ctx: StepContext, settings: Settings) -> dict[str, Any] | Outcome:
    context = _merge_context(ctx, settings)
    written = _recipient(ctx, settings, context)
    if "sms" in ctx.contact.unsubscribed:
        raise Skip("the contact unsubscribed from SMS")
    number = sms.to_e164(written, _country(ctx))
    text = rendering.render(settings.text, context, where=f"the text of step {ctx.event.step_id!r}")
    sender = settings.from_ if settings.provider == "end_user_messaging" else None  # its messages per second
    paced = limits.rate_key("sms", sender)
    deferred = limits.apply(ctx, "sms", settings.marketing, {"to": mask_phone(number)}, paced=paced)
    if deferred is not None:  # quiet hours, a frequency cap (the map's sending limits) or the SMS send rate
        return deferred

    def send() -> dict[str, Any]:
        if settings.provider == "end_user_messaging":
            return {
                "message_id": end_user_messaging.send_text(
                    to=number,
                    text=text,
                    origination_identity=settings.from_ or "",
                    message_type="TRANSACTIONAL" if settings.message_type == "transactional" else "PROMOTIONAL",
                    configuration_set=settings.configuration_set,
                )
            }
        return {"message_id": sms.send(to=number, text=text, sender_id=settings.sender_id or config.sms_sender_id())}

    sent: dict[str, Any] = {"to": mask_phone(number), "provider": settings.provider}
    if not settings.marketing:  # not counted by marketing caps (automaps.channels.limits)
        sent["marketing"] = False
    answer = ctx.once("sms", send, kind="sms.sent", detail=lambda answer: {"message_id": answer["message_id"], **sent})
    return {"message_id": answer["message_id"], **sent}


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
