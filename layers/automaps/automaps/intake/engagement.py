"""Email engagement onto the contact's history: SES events, and our own pixel and redirect.

Two sources record the same kinds with the same detail keys (docs/architecture.md, "Events"):

* **SES** (``connection: default``): the stack's configuration set publishes delivery, open,
  click, bounce and complaint events to EventBridge; a rule hands them to
  ``functions/email_events``, which calls :func:`record_ses_event`. The event's ``mail.tags``
  carry back the contact, map, step and template send_email tagged the message with
  (automaps.channels.email.ses_tags).
* **SMTP connections**: ``functions/email_tracking`` answers the open pixel (:func:`open_pixel`)
  and click redirect (:func:`click_redirect`) that automaps.channels.email_tracking put in the
  email, with signed tokens (automaps.channels.tracking).

=====================  ====================================================================
kind                   detail
=====================  ====================================================================
``email.delivered``    ``message_id``, ``template``, ``connection``
``email.opened``       ``message_id``, ``template``, ``connection``
``email.clicked``      ``message_id``, ``template``, ``connection``, ``url`` (no query string)
``email.bounced``      ``message_id``, ``template``, ``connection``, ``bounce_type``
                       (Permanent, Transient, Undetermined), ``bounce_subtype``, ``suppressed``
``email.complained``   ``message_id``, ``template``, ``connection``, ``feedback_type``, ``suppressed``
=====================  ====================================================================

Entries are at the event's own time (SES's timestamp, or when API Gateway received the request)
and attributed to the sending step. SES and EventBridge deliver at least once: each entry is
written once per event identity (``ContactStore.record_once``), so a redelivered event, or a
retried invocation, records nothing more. Each open of a tracked email is its own event.

A permanent bounce or a complaint also suppresses the address (``ContactStore.suppress_email``);
send_email then skips it with the reason (:func:`suppression_reason`). Transient bounces don't.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Any, Literal

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, Field, model_validator

from automaps import clock
from automaps.channels import email as email_channel
from automaps.channels import tracking
from automaps.replies import Reply
from automaps.store.contacts import ContactStore, Suppression, mask_email

logger = Logger()

KINDS = {
    "Delivery": "email.delivered",
    "Open": "email.opened",
    "Click": "email.clicked",
    "Bounce": "email.bounced",
    "Complaint": "email.complained",
}
SES_CONNECTION = email_channel.DEFAULT_CONNECTION


# ------------------------------------------------------------------ SES event publishing records


class _Ses(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class SesMail(_Ses):
    messageId: str = Field(min_length=1)
    timestamp: datetime | None = None
    destination: list[str] = Field(default_factory=list)
    tags: dict[str, list[str]] = Field(default_factory=dict)


class SesDelivery(_Ses):
    timestamp: datetime
    recipients: list[str] = Field(default_factory=list)


class SesOpen(_Ses):
    timestamp: datetime
    ipAddress: str | None = None
    userAgent: str | None = None


class SesClick(_Ses):
    timestamp: datetime
    link: str
    linkTags: dict[str, list[str]] | None = None
    ipAddress: str | None = None
    userAgent: str | None = None


class SesRecipient(_Ses):
    emailAddress: str


class SesBounce(_Ses):
    timestamp: datetime
    bounceType: Literal["Permanent", "Transient", "Undetermined"]
    bounceSubType: str | None = None
    bouncedRecipients: list[SesRecipient] = Field(default_factory=list)
    feedbackId: str | None = None


class SesComplaint(_Ses):
    timestamp: datetime
    complainedRecipients: list[SesRecipient] = Field(default_factory=list)
    feedbackId: str | None = None
    complaintFeedbackType: str | None = None
    complaintSubType: str | None = None


class SesEvent(_Ses):
    """One SES event publishing record (the ``detail`` of an ``aws.ses`` EventBridge event)."""

    eventType: str
    mail: SesMail
    delivery: SesDelivery | None = None
    open: SesOpen | None = None
    click: SesClick | None = None
    bounce: SesBounce | None = None
    complaint: SesComplaint | None = None

    @model_validator(mode="after")
    def _has_its_section(self) -> SesEvent:
        if self.eventType in KINDS and self.section is None:
            raise ValueError(f"a {self.eventType} event needs its {self.eventType.lower()!r} object")
        return self

    @property
    def section(self) -> SesDelivery | SesOpen | SesClick | SesBounce | SesComplaint | None:
        return getattr(self, self.eventType.lower(), None) if self.eventType in KINDS else None


class SesEngagementEvent(_Ses):
    """What the EventBridge rule hands ``functions/email_events``: the EventBridge envelope
    (``source`` aws.ses, ``detail-type`` "Email Opened", ...) around the SES record. (Powertools'
    EventBridgeModel has the same fields, but importing its package costs a cold start 0.2 s.)"""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    id: str
    source: Literal["aws.ses"]
    detail_type: str = Field(alias="detail-type")
    time: datetime
    resources: list[str] = Field(default_factory=list)
    detail: SesEvent


# ------------------------------------------------------------------ recording SES events


@dataclass(frozen=True)
class Recorded:
    """What became of one event (returned by the handlers, for logs and tests)."""

    kind: str | None
    recorded: bool
    reason: str | None = None
    suppressed: list[str] = field(default_factory=list)  # masked addresses

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "recorded": self.recorded, "reason": self.reason, "suppressed": self.suppressed}


def record_ses_event(event: SesEvent, store: ContactStore | None = None) -> Recorded:
    """Record one SES event on the contact's history, once; suppress the address on a permanent
    bounce or a complaint."""
    kind, section = KINDS.get(event.eventType), event.section
    if kind is None or section is None:
        return Recorded(None, False, f"{event.eventType} events are not recorded")
    trace = email_channel.trace_from_tags(event.mail.tags)
    if trace is None:
        return Recorded(kind, False, "the message was not sent for a contact (no contact_id tag)")
    store = store or ContactStore()
    detail: dict[str, Any] = {
        "message_id": event.mail.messageId,
        "template": trace.template,
        "connection": SES_CONNECTION,
    }
    identity = f"ses|{event.eventType}|{event.mail.messageId}|{clock.iso(section.timestamp)}"
    suppressed: list[str] = []
    if isinstance(section, SesClick):
        detail["url"] = _page_address(section.link)
        identity += f"|{section.link}"
    elif isinstance(section, SesBounce):
        detail.update(bounce_type=section.bounceType, bounce_subtype=section.bounceSubType)
        identity += f"|{section.feedbackId or ''}"
        if section.bounceType == "Permanent":
            suppressed = _suppress(store, _addresses(section.bouncedRecipients, event.mail), "bounced", event, section)
        detail["suppressed"] = section.bounceType == "Permanent"
    elif isinstance(section, SesComplaint):
        detail["feedback_type"] = section.complaintFeedbackType
        identity += f"|{section.feedbackId or ''}"
        if section.complaintFeedbackType != "not-spam":
            suppressed = _suppress(
                store, _addresses(section.complainedRecipients, event.mail), "complained", event, section
            )
        detail["suppressed"] = section.complaintFeedbackType != "not-spam"
    return _record(store, trace, kind, detail, identity, section.timestamp, suppressed)


def _record(
    store: ContactStore,
    trace: email_channel.Trace,
    kind: str,
    detail: dict[str, Any],
    identity: str,
    at: datetime,
    suppressed: list[str] | None = None,
) -> Recorded:
    suppressed = suppressed or []
    if store.get(trace.contact_id) is None:
        logger.info("engagement event for a contact that no longer exists", extra={"kind": kind})
        return Recorded(kind, False, "contact no longer exists", suppressed)
    entry = store.record_once(
        trace.contact_id,
        identity,
        kind,
        {k: v for k, v in detail.items() if v is not None},
        map_id=trace.map_id,
        step_id=trace.step_id,
        at=at,
    )
    if entry is None:
        logger.info("engagement event already recorded", extra={"kind": kind, "contact_id": trace.contact_id})
        return Recorded(kind, False, "already recorded", suppressed)
    logger.info(
        "engagement event recorded",
        extra={"kind": kind, "contact_id": trace.contact_id, "message_id": detail.get("message_id")},
    )
    return Recorded(kind, True, None, suppressed)


def _addresses(recipients: list[SesRecipient], mail: SesMail) -> list[str]:
    found = [parseaddr(r.emailAddress)[1] for r in recipients] or [parseaddr(a)[1] for a in mail.destination]
    return [address for address in found if "@" in address]


def _suppress(
    store: ContactStore,
    addresses: list[str],
    reason: Literal["bounced", "complained"],
    event: SesEvent,
    section: SesBounce | SesComplaint,
) -> list[str]:
    masked = []
    for address in addresses:
        if store.suppress_email(address, reason, at=section.timestamp, message_id=event.mail.messageId):
            logger.info("address suppressed", extra={"address": mask_email(address), "reason": reason})
        masked.append(mask_email(address))
    return masked


def _page_address(url: str) -> str:
    """Links are kept as pages are (automaps.intake.visits, imported only when a click comes in). A link
    that is no URL (``http://[oops``: urlsplit raises) is kept up to its query, at most 2,048
    characters: the click still counts, and retrying the event would not make it parse."""
    from automaps.intake.visits import page_address

    try:
        return page_address(url)
    except ValueError:
        return url.split("?", 1)[0].split("#", 1)[0][:2048]


def suppression_reason(suppression: Suppression) -> str:
    """The skip reason send_email records: ``address bounced on 2026-11-02``."""
    return f"address {suppression.reason} on {suppression.at.astimezone(UTC).date().isoformat()}"


# ------------------------------------------------------------------ our own pixel and redirect (SMTP)

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")  # 1x1 transparent GIF
_NO_CACHE = {"Cache-Control": "no-store, no-cache, must-revalidate, private", "Pragma": "no-cache"}


@dataclass(frozen=True)
class TrackingRequest:
    """One request to the pixel or redirect: API Gateway's request id and receipt time are the
    event's identity and time (a retried invocation of the same request records nothing more)."""

    request_id: str
    at: datetime

    @classmethod
    def of(cls, request_id: str | None, epoch_millis: int | None) -> TrackingRequest:
        at = datetime.fromtimestamp(epoch_millis / 1000, UTC) if epoch_millis else clock.now()
        return cls(request_id=request_id or f"at-{clock.iso(at)}", at=at)


def open_pixel(token: str, request: TrackingRequest, store: ContactStore | None = None) -> Reply:
    """The 1x1 GIF, always; ``email.opened`` recorded only for a genuine open token."""
    pixel = Reply(200, PIXEL, "image/gif", dict(_NO_CACHE))
    try:
        email = tracking.read_open(token)
    except tracking.BadToken as bad:
        logger.warning("open pixel with a token that is not ours", extra={"error": str(bad)})
        return pixel
    _record(
        store or ContactStore(),
        _trace(email),
        "email.opened",
        _detail(email),
        f"smtp|open|{request.request_id}",
        request.at,
    )
    return pixel


def click_redirect(token: str, request: TrackingRequest, store: ContactStore | None = None) -> Reply:
    """302 to the destination the token names, recording ``email.clicked``; a token that is not
    ours gets a 404 page and goes nowhere. ``am_c``, the visitor token (a 400-day identity), is
    added only for a destination on the user's own domains (:func:`tracked_destination`): a
    third-party site never learns it."""
    try:
        email, url = tracking.read_click(token)
    except tracking.BadToken as bad:
        logger.warning("click redirect with a token that is not ours", extra={"error": str(bad)})
        page = (
            '<!doctype html><html><head><meta charset="utf-8"><title>Link not valid</title></head>'
            "<body><h1>Link not valid</h1><p>This link is not valid.</p></body></html>"
        )
        return Reply(404, page, "text/html; charset=utf-8", dict(_NO_CACHE))
    outcome = _record(
        store or ContactStore(),
        _trace(email),
        "email.clicked",
        {**_detail(email), "url": _page_address(url)},
        f"smtp|click|{request.request_id}",
        request.at,
    )
    known = outcome.reason != "contact no longer exists"
    destination = with_visitor(url, email.contact_id) if known and tracked_destination(url) else url
    return Reply(302, "", "text/plain", {**_NO_CACHE, "Location": destination, "Referrer-Policy": "no-referrer"})


TRACKED_DOMAINS_VARIABLE = "TRACKED_DOMAINS"


def tracked_domains() -> tuple[str, ...]:
    """The user's own domains, where page tracking runs (``TRACKED_DOMAINS``, comma-separated,
    template parameter ``TrackedDomains``): each counts with its subdomains. Read when needed;
    empty (the default) means none, so the visitor token goes to no destination."""
    import os

    raw = os.environ.get(TRACKED_DOMAINS_VARIABLE, "")
    return tuple(dict.fromkeys(d.strip().lower().strip(".") for d in raw.split(",") if d.strip().strip(".")))


def tracked_destination(url: str) -> bool:
    """Whether ``url`` is an http(s) address on one of :func:`tracked_domains` or a subdomain of one
    (``shop.example.com`` for ``example.com``; not ``badexample.com``, not ``example.com.evil``)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
    except ValueError:
        return False
    if parts.scheme.lower() not in ("http", "https") or not host:
        return False
    return any(host == domain or host.endswith(f".{domain}") for domain in tracked_domains())


def with_visitor(url: str, contact_id: str) -> str:
    """``url`` with ``am_c=<visitor token>`` appended to its query (the rest left as it was)."""
    base, hash_, fragment = url.partition("#")
    joiner = "&" if "?" in base and not base.endswith(("?", "&")) else ("" if base.endswith(("?", "&")) else "?")
    return f"{base}{joiner}{tracking.VISITOR_PARAM}={tracking.visitor_token(contact_id)}{hash_}{fragment}"


def _trace(email: tracking.TrackedEmail) -> email_channel.Trace:
    return email_channel.Trace(
        contact_id=email.contact_id, map_id=email.map_id, step_id=email.step_id, template=email.template
    )


def _detail(email: tracking.TrackedEmail) -> dict[str, Any]:
    return {"message_id": email.message_id, "template": email.template, "connection": email.connection}
