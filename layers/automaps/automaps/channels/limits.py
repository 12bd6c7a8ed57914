"""Sending limits of a map, applied when a message goes out: quiet hours and frequency caps.

A map may say (``sending:``, automaps.maps.model.Map)::

    sending:
      quiet_hours: {from: "21:00", to: "08:00", timezone: contact}
      caps: [{channel: email, max: 3, per: {days: 7}, kinds: marketing}]
      over_cap: defer            # or skip

The compiler passes it to the map's send_email / send_sms tasks (``sending`` in the action task
event, with the map's ``fallback_timezone``). Before the message goes out, :func:`apply` judges it:

* in quiet hours (in the contact's timezone, else the map's; a map whose quiet hours read the
  contact's timezone must have one: checked when it is loaded) the step is **deferred** to their
  end: the step answers ``outcome: deferred`` with ``detail.deferred_until``, records
  ``step.deferred`` with the reason and time, and sends nothing; the state machine waits until then
  and visits the step again (a new visit, a new idempotency key), which judges again;
* a cap counts the contact's ``email.sent`` / ``sms.sent`` entries in the window, across every map
  (one query of the ByKind index: reads proportional to the window); ``kinds: marketing`` caps and
  counts only marketing messages (``marketing: true``, the default of both actions). At the cap the
  message is deferred until the oldest counted send leaves the window (``over_cap: defer``) or
  skipped (``step.skipped`` with the reason, ``over_cap: skip``).

Then the channel's send rate (automaps.channels.rates: SES's, or the SMS sending identity's,
messages a second, set for the stack): a message beyond it is deferred the same way to the next
free second, when the Task can be deferred (every send Task compiled now: the event carries
``sending``, ``{}`` for a map without limits, and ``deferral: catch``: the step raises
``Deferred`` for the Task's Catch to wait). The end of quiet hours, which a whole timezone shares,
is spread over ``quiet_hours.spread`` (else the stack's ``WAIT_SPREAD_SECONDS``): each contact later
by its own offset, never into the next quiet hours (automaps.timing.spread).

A visit that already started its send (an effect marker of this visit exists: a retry after the
send) is not judged again, so the cap it filled itself cannot turn its replay into a deferral: the
effect markers (automaps.journeys.effects) decide what a retry does, as for every send.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, Field, model_validator

from automaps import clock
from automaps.errors import Skip
from automaps.timing import PositiveDuration, TimeOfDay, WaitTimezone, duration_words

if TYPE_CHECKING:
    from automaps.journeys.steps import Outcome, StepContext
    from automaps.store.contacts import Contact, ContactStore

logger = Logger()

Channel = Literal["email", "sms"]
SENT_KIND: dict[str, str] = {"email": "email.sent", "sms": "sms.sent"}
_STRICT = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
_MARGIN = timedelta(seconds=1)
"""How long after the oldest counted send leaves the window a deferred message is tried again."""


class QuietHours(BaseModel):
    """``{from: "21:00", to: "08:00", timezone: contact}``: no message goes out from ``from`` up to
    ``to`` (across midnight when ``from`` is later), in ``timezone`` (``contact``: the contact's
    own, else the map's ``timezone``; or an IANA name)."""

    model_config = _STRICT
    from_: TimeOfDay = Field(alias="from")
    to: TimeOfDay
    timezone: WaitTimezone = "contact"
    spread: PositiveDuration | None = Field(default=None, exclude_if=lambda value: value is None)
    """The window their end is spread over (each contact later by its own offset); None: the stack's."""

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.from_ == self.to:
            raise ValueError(f"quiet hours from {self.from_} to {self.to} are empty; give two different times")
        if self.spread is not None:
            start, end = _time(self.from_), _time(self.to)
            open_minutes = ((start.hour * 60 + start.minute) - (end.hour * 60 + end.minute)) % 1440
            if self.spread.total_seconds >= open_minutes * 60:
                raise ValueError(
                    f"spread ({duration_words(self.spread.total_seconds)}) must be shorter than the hours "
                    f"between {self.to} and {self.from_}, when messages may go out"
                )
        return self


class Cap(BaseModel):
    """``{channel: email, max: 3, per: {days: 7}, kinds: marketing}``: at most ``max`` messages of
    ``channel`` to a contact in any window of ``per``, across every map."""

    model_config = _STRICT
    channel: Channel
    max: int = Field(ge=1, le=10_000)
    per: PositiveDuration
    kinds: Literal["marketing", "all"] = "marketing"

    def words(self) -> str:
        kinds = "marketing " if self.kinds == "marketing" else ""
        noun = {"email": "email", "sms": "SMS"}[self.channel] + ("" if self.max == 1 else "s")
        return f"at most {self.max} {kinds}{noun} in {duration_words(self.per.total_seconds)}"


class Sending(BaseModel):
    """A map's sending limits (``sending:``)."""

    model_config = _STRICT
    quiet_hours: QuietHours | None = None
    caps: list[Cap] = Field(default_factory=list, max_length=10)
    over_cap: Literal["defer", "skip"] = "defer"

    @model_validator(mode="after")
    def _something(self) -> Sending:
        if self.quiet_hours is None and not self.caps:
            raise ValueError(
                'sending needs quiet_hours (e.g. {from: "21:00", to: "08:00"}) or caps '
                "(e.g. [{channel: email, max: 3, per: {days: 7}}]), or remove it"
            )
        return self

    @property
    def reads_contact_timezone(self) -> bool:
        return self.quiet_hours is not None and self.quiet_hours.timezone == "contact"


@dataclass(frozen=True)
class Verdict:
    """Why a message does not go out now: deferred ``until``, or skipped."""

    verdict: Literal["defer", "skip"]
    reason: str
    until: datetime | None = None
    zone: ZoneInfo | None = None
    """The timezone of the quiet hours that defer it (None: a cap)."""


# ------------------------------------------------------------------ judging


def quiet_until(quiet: QuietHours, now: datetime, zone: ZoneInfo) -> datetime | None:
    """The end of the quiet hours ``now`` is in (UTC), or None when ``now`` is outside them."""
    local = now.astimezone(zone)
    start, end = _time(quiet.from_), _time(quiet.to)
    at = local.time().replace(tzinfo=None)
    if start < end:
        inside, day = start <= at < end, local.date()
    else:  # across midnight: from the evening to the next morning
        inside = at >= start or at < end
        day = local.date() + timedelta(days=1) if at >= start else local.date()
    if not inside:
        return None
    return datetime.combine(day, end, tzinfo=zone).astimezone(now.tzinfo)


def over_cap(cap: Cap, store: ContactStore, contact_id: str, now: datetime) -> datetime | None:
    """When the contact is at ``cap`` now: the moment the oldest send that keeps them there leaves
    the window; None when under it. One query of the ByKind index over the window."""
    window = cap.per.to_timedelta()
    sent = store.events(contact_id, SENT_KIND[cap.channel], since=now - window, until=now)
    if cap.kinds == "marketing":
        sent = [entry for entry in sent if entry.detail.get("marketing", True) is not False]
    if len(sent) < cap.max:
        return None
    return sent[len(sent) - cap.max].at + window + _MARGIN


def judge(
    sending: Sending,
    *,
    contact: Contact,
    store: ContactStore,
    channel: Channel,
    marketing: bool,
    now: datetime,
    fallback_timezone: str | None,
) -> Verdict | None:
    """Whether a message of ``channel`` to ``contact`` may go out now (None) or why not."""
    if sending.quiet_hours is not None:
        zone, where = _zone(sending.quiet_hours.timezone, contact, fallback_timezone)
        until = quiet_until(sending.quiet_hours, now, zone)
        if until is not None:
            quiet = sending.quiet_hours
            return Verdict("defer", f"quiet hours ({quiet.from_}-{quiet.to} in {where})", until, zone)
    reached: list[tuple[datetime, Cap]] = []
    for cap in sending.caps:
        if cap.channel != channel or (cap.kinds == "marketing" and not marketing):
            continue
        until = over_cap(cap, store, contact.id, now)
        if until is not None:
            reached.append((until, cap))
    if not reached:
        return None
    until, cap = max(reached, key=lambda found: found[0])
    reason = f"frequency cap reached ({cap.words()})"
    return Verdict("defer", reason, until) if sending.over_cap == "defer" else Verdict("skip", reason)


def apply(
    ctx: StepContext, channel: Channel, marketing: bool, detail: dict[str, Any], *, paced: str | None = None
) -> Outcome | None:
    """Judge this visit's message against the map's limits (``ctx.event.sending``) and the
    channel's send rate: None to send it; the ``deferred`` outcome (with ``deferred_until``) to send
    it later; raises Skip over a cap with ``over_cap: skip``. A visit that already started its
    send is a replay: never judged.

    ``paced`` names the rate the message counts against (``ses``, ``sms:<sender>``: see
    :func:`rate_key`; None: none, e.g. an SMTP connection). It is honoured when the stack sets the
    channel's rate and the Task can be deferred (the event carries ``sending``); automaps.channels.rates."""
    if ctx.event.sending:
        sending = Sending.model_validate(ctx.event.sending)
        verdict = judge(
            sending,
            contact=ctx.contact,
            store=ctx.store,
            channel=channel,
            marketing=marketing,
            now=ctx.now,
            fallback_timezone=ctx.event.fallback_timezone,
        )
        if verdict is not None:
            if _replay(ctx, channel):
                return None  # this visit sent (or started sending) already: its marker decides
            if verdict.verdict == "skip":
                raise Skip(verdict.reason, detail)
            until = verdict.until or ctx.now
            if verdict.zone is not None and sending.quiet_hours is not None:  # a timezone's quiet hours end at once
                until = spread_quiet_end(sending.quiet_hours, until, verdict.zone, ctx)
            return ctx.outcome(
                "deferred",
                f"{verdict.reason}: deferred until {clock.iso(until)}",
                deferred_until=clock.iso(until),
                **detail,
            )
    return _paced(ctx, channel, paced, detail)


def rate_key(channel: Channel, sender: str | None = None) -> str:
    """The rate a message counts against: ``ses`` (the account's SES rate), ``sms:<sender>`` (a
    sending identity's messages per second; ``sms:sns`` for Amazon SNS's account default)."""
    if channel == "email":
        return "ses"
    cleaned = "".join(ch for ch in (sender or "sns") if ch.isalnum() or ch in "+-_:/.")
    return f"sms:{cleaned[:200]}"


def spread_quiet_end(quiet: QuietHours, end: datetime, zone: ZoneInfo, ctx: StepContext) -> datetime:
    """The end of the quiet hours for this contact: later by the contact's offset in the spread
    window (``quiet_hours.spread``, else the stack's ``WAIT_SPREAD_SECONDS``), never into the next
    quiet hours."""
    from automaps import config
    from automaps.timing import spread

    window = quiet.spread.total_seconds if quiet.spread is not None else config.wait_spread()
    if window <= 0:
        return end
    local_end = end.astimezone(zone)
    next_quiet = datetime.combine(local_end.date(), _time(quiet.from_), tzinfo=zone)
    if next_quiet <= local_end:
        next_quiet = datetime.combine(local_end.date() + timedelta(days=1), _time(quiet.from_), tzinfo=zone)
    return spread(end, window, ctx.contact.id, ctx.event.map_id, ctx.event.step_id, before=next_quiet)


def _paced(ctx: StepContext, channel: Channel, paced: str | None, detail: dict[str, Any]) -> Outcome | None:
    from automaps import config
    from automaps.channels import rates

    rate = config.send_rate(channel) if paced else 0.0
    if not rate or not paced:
        return None
    if ctx.event.sending is None:
        logger.debug("send not paced: its map was compiled without the deferral", extra={"rate": paced})
        return None
    holder = rates.holder(ctx.event.execution_id, ctx.event.state_name)
    slot = rates.pace(paced, rate, holder, ctx.event.idempotency_key, ctx.now)
    if slot.now or _replay(ctx, channel):
        return None
    until = clock.iso(slot.second)
    words = {"ses": "the SES send rate"}.get(paced, "the SMS send rate")
    reason = f"{words} ({rates.rate_words(rate)}): deferred until {until}"
    return ctx.outcome("deferred", reason, deferred_until=until, **detail)


def _replay(ctx: StepContext, channel: Channel) -> bool:
    from automaps.journeys import effects

    return bool(effects.markers_of_visit(ctx.event, channel))


def _zone(choice: str, contact: Contact, fallback: str | None) -> tuple[ZoneInfo, str]:
    if choice != "contact":
        return ZoneInfo(choice), choice
    own = contact.timezone
    if isinstance(own, str) and own:
        try:
            return ZoneInfo(own), f"the contact's timezone {own}"
        except (ValueError, KeyError):
            pass
    if fallback:
        return ZoneInfo(fallback), f"the map's timezone {fallback}"
    return ZoneInfo("UTC"), "UTC (no timezone known)"  # a map is refused at load without a fallback


def _time(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))
