"""send_email: render an email with the contact's merge fields and send it through a connection.

The email is a stored template (``template: welcome``) or written in the step itself (``subject``
with ``html`` and/or ``text``). It goes out through Amazon SES (``connection: default``) or a
named SMTP connection (``content/connections/<name>.yaml``, automaps.channels.smtp). Marketing
mail carries the one-click unsubscribe headers and link whichever the connection.

Engagement is tracked whichever the connection: SES message tags name the contact, map, step and
template; through SMTP our own pixel and click redirect do (automaps.intake.engagement). An address that
bounced for good or complained is skipped, never sent to ("address bounced on 2026-11-02"). The
map's sending limits (quiet hours, frequency caps: automaps.channels.limits) may defer or skip it,
and SES's send rate (``EMAIL_SEND_RATE``, automaps.channels.rates) may defer it to a later second;
``marketing: false`` (transactional mail) is neither capped nor counted by ``kinds: marketing`` caps.

:func:`compose` is shared with ``automaps test-email``, which sends the same email to any address
without an enrollment.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from automaps import rendering
from automaps.channels import email, limits, tracking
from automaps.journeys.steps import Outcome, PermanentError, Skip, StepContext
from automaps.store.contacts import Contact, mask_email

DEFAULT_CONNECTION = email.DEFAULT_CONNECTION
INLINE = "inline"
_CONNECTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_WAYS = "give either 'template: <name>' (a stored template) or an inline 'subject' with 'html' and/or 'text'"


class Settings(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {"template": "welcome"},
                {
                    "subject": "Your order {{ event.order_id }}",
                    "text": "Thanks, {{ contact.first_name | default('there') }}! Your order is on its way.",
                    "marketing": False,
                },
            ]
        },
    )

    template: str | None = Field(
        default=None, min_length=1, description="name of an email template in the content store"
    )
    subject: str | None = Field(
        default=None,
        min_length=1,
        max_length=998,
        description="the inline email's subject, or overrides the template's",
    )
    html: str | None = Field(default=None, min_length=1, description="inline email: HTML body")
    text: str | None = Field(default=None, min_length=1, description="inline email: plain-text body")
    connection: str = Field(
        default=DEFAULT_CONNECTION, description="'default' is Amazon SES; otherwise an SMTP connection's name"
    )
    to: str | None = Field(default=None, description="merge expression; defaults to the contact's email")
    marketing: bool = Field(default=True, description="adds the unsubscribe link and List-Unsubscribe")

    @field_validator("connection")
    @classmethod
    def _connection_name(cls, value: str) -> str:
        if not _CONNECTION_NAME.match(value):
            raise ValueError(
                f"connection {value!r} must be 'default' (Amazon SES) or the name of an SMTP "
                f"connection in content/connections/ (letters, digits, '.', '-', '_')"
            )
        return value

    @model_validator(mode="after")
    def _one_way(self) -> Settings:
        inline = self.html is not None or self.text is not None
        if self.template and inline:
            raise ValueError(f"{_WAYS}, not both: drop 'template' or drop 'html'/'text'")
        if not self.template and not inline:
            raise ValueError(f"{_WAYS}")
        if inline and not self.subject:
            raise ValueError(f"an inline email needs a 'subject' ({_WAYS})")
        return self

    @property
    def name(self) -> str:
        """What the history calls the email: the template's name, or ``inline``."""
        return self.template or INLINE


@dataclass(frozen=True)
class Source:
    """The unrendered email: a stored template, or the step's inline subject and bodies."""

    name: str
    subject: str
    html: str | None
    text: str | None
    marketing: bool


@dataclass(frozen=True)
class Email:
    """A rendered email, ready for a connection."""

    to: str
    subject: str
    html: str
    text: str
    headers: dict[str, str] | None
    marketing: bool
    name: str


def run(ctx: StepContext, settings: Settings) -> dict[str, Any] | Outcome:
    message = compose(
        settings,
        ctx.contact,
        ctx.trigger_event,
        where_to=f"the 'to' of step {ctx.event.step_id!r}",
        sent_by=(ctx.event.map_id, ctx.event.step_id),
    )
    suppression = ctx.store.email_suppression(email.valid_address(message.to))
    if suppression is not None:  # a permanent bounce or a complaint (automaps.intake.engagement)
        from automaps.intake.engagement import suppression_reason

        raise Skip(
            suppression_reason(suppression),
            {"template": message.name, "to": mask_email(message.to), "suppressed": suppression.reason},
        )
    paced = limits.rate_key("email") if settings.connection == DEFAULT_CONNECTION else None  # SES's send rate
    held = {"template": message.name, "to": mask_email(message.to)}
    deferred = limits.apply(ctx, "email", message.marketing, held, paced=paced)
    if deferred is not None:  # quiet hours, a frequency cap (the map's sending limits) or SES's send rate
        return deferred
    trace = email.Trace(
        contact_id=ctx.contact.id, map_id=ctx.event.map_id, step_id=ctx.event.step_id, template=message.name
    )
    sent = {
        "template": message.name,
        "to": mask_email(message.to),
        "marketing": message.marketing,
        "connection": settings.connection,
    }

    def deliver() -> dict[str, Any]:
        return {
            "message_id": email.deliver(
                settings.connection,
                to=message.to,
                subject=message.subject,
                html=message.html,
                text=message.text,
                headers=message.headers,
                trace=trace,
            )
        }

    answer = ctx.once("email", deliver, kind="email.sent", detail=lambda answer: {**answer, **sent})
    return {**answer, **sent}


def compose(
    settings: Settings,
    contact: Contact,
    trigger: Callable[[], dict[str, Any]],
    *,
    to: str | None = None,
    where_to: str = "the 'to'",
    honour_unsubscribe: bool = True,
    sent_by: tuple[str, str] | None = None,
) -> Email:
    """Render the email for ``contact``. ``trigger`` gives the enrollment's event (called only if
    the email uses ``event`` or ``offer``); ``to`` overrides the recipient (test emails).
    Raises Skip (no address, unsubscribed), PermanentError (unknown template) or rendering's
    MissingField / TemplateProblem. ``sent_by`` (map, step): the unsubscribe link names them."""
    source = load_source(settings)
    marketing = settings.marketing and source.marketing
    context = _merge_context(contact, trigger, settings, source, marketing, sent_by)
    if to is None:
        to = _recipient(contact, settings, context, where_to)
    if honour_unsubscribe and marketing and "email" in contact.unsubscribed:
        raise Skip("the contact unsubscribed from email", {"template": source.name})
    where = f"email template {source.name!r}" if settings.template else "the inline email"
    subject = rendering.render(source.subject, context, where=f"{where} (subject)")
    html = rendering.render(source.html, context, html=True, where=f"{where} (html)") if source.html else None
    text = rendering.render(source.text, context, where=f"{where} (text)") if source.text else None
    if html is None:
        html = _text_as_html(text or "")
    if text is None:
        text = rendering.html_to_text(html)
    headers = None
    if marketing:
        html, text = email.with_unsubscribe_link(html, text, context["unsubscribe_url"])
        headers = email.unsubscribe_headers(context["unsubscribe_url"])
    return Email(to=to, subject=subject, html=html, text=text, headers=headers, marketing=marketing, name=source.name)


def load_source(settings: Settings) -> Source:
    if not settings.template:
        return Source(
            name=INLINE, subject=settings.subject or "", html=settings.html, text=settings.text, marketing=True
        )
    try:
        template = rendering.load_email_template(settings.template)
    except rendering.UnknownTemplate as unknown:
        raise PermanentError(str(unknown)) from None
    return Source(
        name=settings.template,
        subject=settings.subject or template.subject,
        html=template.html,
        text=template.text,
        marketing=template.marketing,
    )


def _text_as_html(text: str) -> str:
    body = html_lib.escape(text).replace("\n", "<br>\n")
    return f'<html>\n<body style="font-family:Helvetica,Arial,sans-serif;line-height:1.5">\n{body}\n</body>\n</html>\n'


def _merge_context(
    contact: Contact,
    trigger: Callable[[], dict[str, Any]],
    settings: Settings,
    source: Source,
    marketing: bool,
    sent_by: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """The merge fields, fetching the enrollment's event only when the email uses it."""
    used = rendering.referenced_variables(source.subject, source.html, source.text, settings.to)
    event = trigger() if used & {"event", "offer"} else {}
    offer = event.get("offer")
    context = rendering.merge_context(contact, event, offer if isinstance(offer, dict) else None)
    if marketing or "unsubscribe_url" in used:
        map_id, step_id = sent_by or (None, None)
        context["unsubscribe_url"] = tracking.unsubscribe_url(contact.id, "email", map_id=map_id, step_id=step_id)
    return context


def _recipient(contact: Contact, settings: Settings, context: dict[str, Any], where: str) -> str:
    if settings.to:
        to = rendering.render(settings.to, context, where=where).strip()
    else:
        to = (contact.email or "").strip()
    if not to:
        raise Skip("the contact has no email address", {"template": settings.name})
    return to
