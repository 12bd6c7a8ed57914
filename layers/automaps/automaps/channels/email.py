"""Email through Amazon SES v2, as a raw MIME message (so our own headers go out as written),
or through an SMTP connection (:func:`deliver`, automaps.channels.smtp).

``send`` takes a rendered message and returns SES's message id. Marketing mail carries the
RFC 8058 one-click unsubscribe headers (:func:`unsubscribe_headers`) and a visible link
(:func:`with_unsubscribe_link`). SES errors are classified for the step runner: throttling and
server errors are transient (the state's Retry applies), everything else is permanent.

Engagement: an email sent for a contact carries a :class:`Trace` (contact, map, step, template).
Through SES it becomes message tags (:func:`ses_tags`), which the configuration set's events
carry back (:func:`trace_from_tags`, automaps.intake.engagement); through SMTP our own open pixel and
click redirect carry it in signed tokens (automaps.channels.email_tracking).
"""

from __future__ import annotations

import base64
import binascii
import html as html_lib
import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from botocore.exceptions import ClientError

from automaps import aws, clock, config
from automaps.channels.errors import provider_call
from automaps.errors import PermanentError, TransientError
from automaps.store.contacts import mask_email

# SES v2 SendEmail errors that go away by waiting; everything else is the message's problem.
TRANSIENT_CODES = frozenset(
    {
        "TooManyRequestsException",
        "LimitExceededException",
        "SendingPausedException",
        "Throttling",
        "ThrottlingException",
        "ServiceUnavailable",
        "InternalFailure",
        "InternalServerError",
    }
)
_PERMANENT_REASONS = {
    "MessageRejected": "SES rejected the message",
    "AccountSuspendedException": "the SES account may no longer send email",
    "MailFromDomainNotVerifiedException": "the sender's MAIL FROM domain is not verified in SES",
    "NotFoundException": "SES does not know the configuration set or identity",
    "BadRequestException": "SES refused the request",
    "InvalidParameterValue": "SES refused an address or parameter",
}
_MAX_HEADER_LINE = 998  # RFC 5322
_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")


# ------------------------------------------------------------------ privacy


def mask_addresses(text: str) -> str:
    """Every email address in ``text`` masked (provider error messages quote them)."""
    return _ADDRESS.sub(lambda match: mask_email(match.group(0)), text or "")


# ------------------------------------------------------------------ unsubscribe


def unsubscribe_headers(url: str) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe: mailbox providers POST ``List-Unsubscribe=One-Click``."""
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def with_unsubscribe_link(html: str, text: str, url: str) -> tuple[str, str]:
    """Bodies that show the unsubscribe link: unchanged where the template already has it."""
    if url not in html:
        footer = (
            f'<p style="font-size:12px;color:#6b7280">Don\'t want these emails? '
            f'<a href="{html_lib.escape(url, quote=True)}">Unsubscribe</a>.</p>'
        )
        closing = html.lower().rfind("</body>")
        html = html[:closing] + footer + html[closing:] if closing >= 0 else html + footer
    if url not in text:
        text = f"{text.rstrip()}\n\n--\nUnsubscribe: {url}\n"
    return html, text


# ------------------------------------------------------------------ sending


def build_message(
    *,
    to: str,
    subject: str,
    html: str,
    text: str,
    sender: str,
    headers: dict[str, str] | None = None,
    message_id: str | None = None,
) -> EmailMessage:
    """A multipart/alternative message (text first, HTML preferred), 7-bit clean."""
    from email.policy import SMTP  # (here: email.policy's header registry is 2 ms of every importer's cold start)

    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = to
    message["Subject"] = " ".join(subject.split())  # merge fields must not fold or inject headers
    message["Date"] = formatdate(clock.now().timestamp(), usegmt=True)
    if message_id:
        message["Message-ID"] = message_id
    for name, value in (headers or {}).items():
        message.set_raw(name, _raw_header_value(name, value))
    # quoted-printable keeps the message 7-bit, as SES asks, whatever the language
    message.set_content(text, cte="quoted-printable")
    message.add_alternative(html, subtype="html", cte="quoted-printable")
    return message


def _raw_header_value(name: str, value: str) -> str:
    """Our own headers go out verbatim: a List-Unsubscribe URL folded into RFC 2047 encoded
    words would no longer be a URL to a mailbox provider."""
    if not (value.isascii() and value.isprintable()) or len(name) + len(value) + 2 > _MAX_HEADER_LINE:
        raise ValueError(f"header {name} must be printable ASCII of at most {_MAX_HEADER_LINE} characters")
    return value


# ------------------------------------------------------------------ message tags (SES events carry them back)


@dataclass(frozen=True)
class Trace:
    """Who an email is for and which step sent it: what its engagement events are recorded against."""

    contact_id: str
    map_id: str | None
    step_id: str | None
    template: str


TAG_NAMES = {"contact_id": "contact_id", "map_id": "map_id", "step_id": "step_id", "template": "template"}
_TAG_SAFE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_ENCODED = "b64-"  # a tag value outside SES's charset travels as b64-<base64url of its UTF-8>


def tag_value(value: str) -> str:
    """``value`` in SES's tag charset (ASCII letters, digits, ``_`` and ``-``, at most 256),
    reversibly: anything else is base64url-encoded behind ``b64-`` (:func:`read_tag_value`)."""
    if _TAG_SAFE.fullmatch(value) and not value.startswith(_ENCODED):
        return value
    encoded = _ENCODED + base64.urlsafe_b64encode(value.encode()).rstrip(b"=").decode("ascii")
    if len(encoded) > 256:
        raise ValueError(f"message tag value too long for SES once encoded: {value[:40]!r}...")
    return encoded


def read_tag_value(value: str) -> str:
    if not value.startswith(_ENCODED):
        return value
    text = value[len(_ENCODED) :]
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (binascii.Error, ValueError):
        return value


def ses_tags(trace: Trace) -> list[dict[str, str]]:
    """SES v2 ``EmailTags`` for ``trace`` (map and step omitted when there are none)."""
    values = {
        "contact_id": trace.contact_id,
        "map_id": trace.map_id,
        "step_id": trace.step_id,
        "template": trace.template,
    }
    return [{"Name": TAG_NAMES[key], "Value": tag_value(value)} for key, value in values.items() if value]


def trace_from_tags(tags: dict[str, list[str]]) -> Trace | None:
    """The trace an SES event's ``mail.tags`` carry back; None for mail we did not send for a contact."""

    def first(key: str) -> str | None:
        values = tags.get(TAG_NAMES[key]) or []
        return read_tag_value(values[0]) if values and values[0] else None

    contact_id = first("contact_id")
    if not contact_id:
        return None
    return Trace(
        contact_id=contact_id, map_id=first("map_id"), step_id=first("step_id"), template=first("template") or ""
    )


def valid_address(address: str) -> str:
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError:
        raise PermanentError(f"not a valid email address: {mask_email(address)}") from None


def send(
    *,
    to: str,
    subject: str,
    html: str,
    text: str,
    sender: str,
    headers: dict[str, str] | None = None,
    configuration_set: str | None = None,
    tags: list[dict[str, str]] | None = None,
) -> str:
    """Send one message with SES v2; returns the SES message id. ``tags`` (``EmailTags``) come back
    on the configuration set's events."""
    message = build_message(to=valid_address(to), subject=subject, html=html, text=text, sender=sender, headers=headers)
    from email.policy import SMTP

    # generated headers fold at 78 characters; the ones set raw (unsubscribe) are left as they are
    raw = message.as_bytes(policy=SMTP.clone(refold_source="none"))
    request: dict[str, Any] = {"FromEmailAddress": sender, "Content": {"Raw": {"Data": raw}}}
    if configuration_set:
        request["ConfigurationSetName"] = configuration_set
    if tags:
        request["EmailTags"] = tags
    with provider_call("SES", classify):
        return aws.client("sesv2").send_email(**request)["MessageId"]


DEFAULT_CONNECTION = "default"


def deliver(
    connection: str,
    *,
    to: str,
    subject: str,
    html: str,
    text: str,
    headers: dict[str, str] | None = None,
    trace: Trace | None = None,
) -> str:
    """Send through ``connection``: ``default`` is Amazon SES from EMAIL_FROM, any other name an
    SMTP connection from the content store (automaps.channels.smtp). Returns the message id.

    With a ``trace`` the email's engagement is tracked: through SES by message tags on the
    configuration set's events, through SMTP by our own open pixel and click redirect."""
    if connection == DEFAULT_CONNECTION:
        return send(
            to=to,
            subject=subject,
            html=html,
            text=text,
            sender=config.email_from(),
            headers=headers,
            configuration_set=config.ses_configuration_set(),
            tags=ses_tags(trace) if trace else None,
        )
    from automaps.channels import smtp

    server = smtp.load(connection)
    message_id = smtp.message_id_for(server)
    if trace:
        from automaps.channels import email_tracking

        html = email_tracking.instrument(html, trace, message_id=message_id.strip("<>"), connection=connection)
    message = build_message(
        to=valid_address(to),
        subject=subject,
        html=html,
        text=text,
        sender=server.from_address,
        headers=headers,
        message_id=message_id,
    )
    return smtp.send(server, message)


def classify(error: ClientError) -> Exception:
    """A SES ClientError as TransientError (retry later) or PermanentError (give up)."""
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    detail = mask_addresses(error.response.get("Error", {}).get("Message", ""))
    if code in TRANSIENT_CODES or status == 429 or status >= 500:
        return TransientError(f"SES {code or status}: {detail}".rstrip(": "))
    reason = _PERMANENT_REASONS.get(code, "SES refused the message")
    return PermanentError(f"{reason} ({code}){': ' + detail if detail else ''}")
