"""notify_team_sms: tell staff or partners about a contact by SMS (SNS), templated with the
contact's data. Internal: sent whatever the contact's own SMS preferences. One message per
number, each sent once even when the step is retried."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from automaps import config
from automaps.channels import sms, team
from automaps.channels.team import Recipient
from automaps.journeys.steps import PermanentError, StepContext
from automaps.store.contacts import mask_phone


class Settings(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {"to": ["+14155550199"], "text": "New wholesale lead: {{ contact.first_name | default('a contact') }}"}
            ]
        },
    )

    to: list[Recipient] = Field(
        min_length=1,
        max_length=team.MAX_RECIPIENTS,
        description="numbers in international format (+CC...), each a string or {address, name}",
    )
    text: str = Field(min_length=1, max_length=1600, description="merge fields allowed")
    sender_id: str | None = Field(
        default=None, max_length=11, description="the alphanumeric sender ID (at most 11 characters)"
    )

    _recipients = field_validator("to", mode="before")(team.as_recipients)

    @field_validator("to")
    @classmethod
    def _valid_numbers(cls, recipients: list[Recipient]) -> list[Recipient]:
        checked, seen = [], set()
        for recipient in recipients:
            try:
                number = sms.to_e164(recipient.address)
            except PermanentError:
                raise ValueError(
                    f"{mask_phone(recipient.address)!r} in 'to' is not a phone number in "
                    "international format; write it with its country code, like +14155550123"
                ) from None
            if number in seen:
                raise ValueError(f"{mask_phone(number)!r} appears twice in 'to'; list each number once")
            seen.add(number)
            checked.append(recipient.model_copy(update={"address": number}))
        return checked


def run(ctx: StepContext, settings: Settings) -> dict[str, Any]:
    text = ctx.render(settings.text, where=f"the text of step {ctx.event.step_id!r}")
    sender_id = settings.sender_id or config.sms_sender_id()

    def send(to: str) -> str:
        return sms.send(to=to, text=text, sender_id=sender_id)

    def notified(recipient: Recipient, message_id: str) -> dict[str, Any]:
        return {"channel": "sms", "to": mask_phone(recipient.address), "name": recipient.name, "message_id": message_id}

    result = team.notify_each(ctx, settings.to, send, notified, mask_phone)
    return team.outcome(result, len(settings.to), "SNS")
