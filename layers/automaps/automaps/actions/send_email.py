"""send_email: render a stored template with the contact's merge fields and send it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from automaps import config, rendering
from automaps.channels import email, tracking
from automaps.contacts import mask_email
from automaps.rendering import EmailTemplate
from automaps.steps import PermanentError, Skip, StepContext

CONNECTIONS = {"default": "Amazon SES"}


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    template: str = Field(min_length=1, description="name of an email template in the content store")
    connection: str = Field(default="default", description="'default' is Amazon SES")
    to: str | None = Field(default=None, description="merge expression; defaults to the contact's email")
    subject: str | None = Field(default=None, description="overrides the template's subject")
    marketing: bool = Field(default=True, description="adds the unsubscribe link and List-Unsubscribe")

    @field_validator("connection")
    @classmethod
    def _known_connection(cls, value: str) -> str:
        if value not in CONNECTIONS:
            known = ", ".join(f"{name!r} ({what})" for name, what in CONNECTIONS.items())
            raise ValueError(f"unknown email connection {value!r}; the connections available are {known}")
        return value


def run(ctx: StepContext, settings: Settings) -> dict[str, Any]:
    template = _template(settings.template)
    marketing = settings.marketing and template.marketing
    subject_source = settings.subject or template.subject
    context = _merge_context(ctx, settings, template, subject_source, marketing)
    to = _recipient(ctx, settings, context)
    if marketing and "email" in ctx.contact.unsubscribed:
        raise Skip("the contact unsubscribed from email", {"template": settings.template})
    where = f"email template {settings.template!r}"
    subject = rendering.render(subject_source, context, where=f"{where} (subject)")
    html = rendering.render(template.html, context, html=True, where=f"{where} (html)")
    text = rendering.render(template.text, context, where=f"{where} (text)") if template.text \
        else rendering.html_to_text(html)
    headers = None
    if marketing:
        html, text = email.with_unsubscribe_link(html, text, context["unsubscribe_url"])
        headers = email.unsubscribe_headers(context["unsubscribe_url"])
    message_id = email.send(to=to, subject=subject, html=html, text=text, sender=config.email_from(),
                            headers=headers, configuration_set=config.ses_configuration_set())
    sent = {"message_id": message_id, "template": settings.template, "to": mask_email(to),
            "marketing": marketing}
    ctx.record_effect("email.sent", sent)
    return sent


def _template(name: str) -> EmailTemplate:
    try:
        return rendering.load_email_template(name)
    except rendering.UnknownTemplate as unknown:
        raise PermanentError(str(unknown)) from None


def _merge_context(ctx: StepContext, settings: Settings, template: EmailTemplate, subject: str,
                   marketing: bool) -> dict[str, Any]:
    """The merge fields, fetching the enrollment's event only when a template uses it."""
    used = rendering.referenced_variables(subject, template.html, template.text, settings.to)
    trigger = ctx.trigger_event() if used & {"event", "offer"} else {}
    offer = trigger.get("offer")
    context = rendering.merge_context(ctx.contact, trigger, offer if isinstance(offer, dict) else None)
    if marketing or "unsubscribe_url" in used:
        context["unsubscribe_url"] = tracking.unsubscribe_url(ctx.contact.id, "email")
    return context


def _recipient(ctx: StepContext, settings: Settings, context: dict[str, Any]) -> str:
    if settings.to:
        to = rendering.render(settings.to, context, where=f"the 'to' of step {ctx.event.step_id!r}").strip()
    else:
        to = (ctx.contact.email or "").strip()
    if not to:
        raise Skip("the contact has no email address", {"template": settings.template})
    return to
