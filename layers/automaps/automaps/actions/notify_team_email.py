"""notify_team_email: tell staff or partners about a contact by email (SES), templated with the
contact's data. Internal and transactional: no unsubscribe link, sent whatever the contact's own
email preferences. One message per recipient, each sent once even when the step is retried."""

from __future__ import annotations

import html as html_lib
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from automaps import config, rendering
from automaps.channels import email, team
from automaps.channels.team import Recipient
from automaps.journeys.steps import PermanentError, StepContext
from automaps.store.contacts import mask_email


class Settings(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "to": ["sales@example.com", {"address": "sam@example.com", "name": "Sam"}],
                    "subject": "New lead: {{ contact.email }}",
                    "text": "{{ contact.first_name | default('Someone') }} asked for a demo.",
                    "reply_to": "{{ contact.email }}",
                }
            ]
        },
    )

    to: list[Recipient] = Field(
        min_length=1, max_length=team.MAX_RECIPIENTS, description="addresses, each a string or {address, name}"
    )
    subject: str = Field(min_length=1, max_length=998, description="merge fields allowed")
    text: str | None = Field(default=None, max_length=100_000, description="plain-text body, merge fields allowed")
    html: str | None = Field(default=None, max_length=200_000, description="HTML body, merge fields escaped")
    reply_to: str | None = Field(default=None, description="merge expression, e.g. '{{ contact.email }}'")

    _recipients = field_validator("to", mode="before")(team.as_recipients)

    @field_validator("to")
    @classmethod
    def _valid_addresses(cls, recipients: list[Recipient]) -> list[Recipient]:
        from email_validator import EmailNotValidError, validate_email

        checked, seen = [], set()
        for recipient in recipients:
            try:
                address = validate_email(recipient.address.strip(), check_deliverability=False).normalized
            except EmailNotValidError as error:
                raise ValueError(
                    f"{recipient.address!r} in 'to' is not an email address ({error}); "
                    "write an address like ops@example.com"
                ) from None
            if address.lower() in seen:
                raise ValueError(f"{address!r} appears twice in 'to'; list each recipient once")
            seen.add(address.lower())
            checked.append(recipient.model_copy(update={"address": address}))
        return checked

    @model_validator(mode="after")
    def _a_body(self) -> Settings:
        if not (self.text or self.html):
            raise ValueError("notify_team_email needs a body: give 'text', 'html' or both")
        return self


def run(ctx: StepContext, settings: Settings) -> dict[str, Any]:
    message = _render(ctx, settings)  # everything rendered first: a missing field sends nothing

    def send(to: str) -> str:
        return email.send(
            to=to, sender=config.email_from(), configuration_set=config.ses_configuration_set(), **message
        )

    def notified(recipient: Recipient, message_id: str) -> dict[str, Any]:
        return {
            "channel": "email",
            "to": mask_email(recipient.address),
            "name": recipient.name,
            "message_id": message_id,
            "subject": message["subject"],
        }

    result = team.notify_each(ctx, settings.to, send, notified, mask_email)
    return team.outcome(result, len(settings.to), "SES")


def _render(ctx: StepContext, settings: Settings) -> dict[str, Any]:
    step = f"step {ctx.event.step_id!r}"
    texts = (settings.subject, settings.text, settings.html, settings.reply_to)
    context = ctx.merge_context(*texts)
    subject = rendering.render(settings.subject, context, where=f"the subject of {step}")
    html = rendering.render(settings.html, context, html=True, where=f"the html of {step}") if settings.html else None
    text = rendering.render(settings.text, context, where=f"the text of {step}") if settings.text else None
    if html is None:
        html = "<p>" + html_lib.escape(text or "").replace("\n", "<br>\n") + "</p>"
    if text is None:
        text = rendering.html_to_text(html)
    message: dict[str, Any] = {"subject": subject, "html": html, "text": text}
    if settings.reply_to:
        reply_to = rendering.render(settings.reply_to, context, where=f"the reply_to of {step}").strip()
        message["headers"] = {"Reply-To": _valid_reply_to(reply_to)}
    return message


def _valid_reply_to(address: str) -> str:
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError:
        raise PermanentError(f"the reply_to is not a valid email address: {mask_email(address)}") from None
