"""When does a ``wait`` end, or an action with ``when`` run, for this contact? Pure: the caller
passes the contact's data and now.

The compiler turns timings that need the contact or the clock (a time of day, a window,
weekdays, a date field, a date that may be past) into a ``resolve_wait`` task that calls
:func:`resolve` and a Wait state until the returned instant. The rules (docs/map-format.md,
"When to run" and "wait"):

1. the moment starts from now plus the delay, or from ``until``, or from the contact's
   ``until_field`` plus ``offset`` (``yearly``: its next anniversary);
2. with ``at``, ``between`` and/or ``weekdays`` it moves on to the first allowed time at or after
   that, in ``timezone`` ("contact": the contact's own timezone, or the map's timezone when the
   contact has none or an unknown one); a start inside a ``between`` window stays where it is.
   Times of day are wall-clock times: 09:00 stays 09:00 across DST changes (a time the change
   skips is read as one hour later);
3. a moment already past, or a date field that is missing, not a date, or a date-time without a
   timezone when neither the contact nor the map has one, is *missed*: :func:`skips` says what
   follows from the step's ``if_past`` (an action without its date is always skipped).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from automaps.timing import WEEKDAYS, Timing, duration_words


class WaitFieldError(ValueError):
    """The contact's ``until_field`` cannot give a moment: missing, not a date, or no timezone."""


class Moment(NamedTuple):
    """Where a timing lands for one contact."""

    at: datetime
    """When to go on (UTC, never before now)."""
    missed: str | None = None
    """Why the moment cannot be kept (it was already past, or there is no usable date), or None."""
    no_date: bool = False
    """True when the date field gave no moment at all."""


def resolve(
    spec: Timing, contact_fields: dict[str, Any], contact_timezone: str | None, fallback_tz: str | None, now: datetime
) -> Moment:
    """Where ``spec`` (a wait or an action's ``when``) lands for this contact at ``now``."""
    zone = _zone(spec.timezone, contact_timezone, fallback_tz)
    try:
        moment = _moment(spec, contact_fields, zone, now)
    except WaitFieldError as error:
        return Moment(now.astimezone(UTC), str(error), no_date=True)
    if moment < now:
        return Moment(now.astimezone(UTC), f"{_words(spec)} ({moment:%Y-%m-%dT%H:%MZ}) was already past")
    return Moment(moment.astimezone(UTC))


def spread_bound(
    spec: Timing,
    at: datetime,
    contact_timezone: str | None,
    fallback_tz: str | None,
    sending: dict[str, Any] | None = None,
) -> datetime | None:
    """How late a spread may move ``at`` (a resolved moment): before the close of its ``between``
    window, and before the next start of the map's quiet hours (``sending``); None: no bound."""
    bounds = []
    zone = _zone(spec.timezone, contact_timezone, fallback_tz)
    if spec.window and zone is not None:
        opens_at, closes_at = spec.window
        local = at.astimezone(zone)
        day = local.date() if local.time() >= opens_at else local.date() - timedelta(days=1)
        closes = _local(day + timedelta(days=1 if closes_at <= opens_at else 0), closes_at, zone)
        if closes > at:
            bounds.append(closes)
    quiet = (sending or {}).get("quiet_hours")
    if isinstance(quiet, dict) and quiet.get("from"):
        where = quiet.get("timezone", "contact")
        quiet_zone = _zone(where, contact_timezone, fallback_tz) or ZoneInfo("UTC")
        starts_at = time.fromisoformat(str(quiet["from"]))
        local = at.astimezone(quiet_zone)
        starts = _local(local.date(), starts_at, quiet_zone)
        if starts <= at:
            starts = _local(local.date() + timedelta(days=1), starts_at, quiet_zone)
        bounds.append(starts)
    return min(bounds) if bounds else None


def skips(spec: Timing, moment: Moment, *, action: bool) -> bool:
    """Whether the timed thing is skipped: an action (for ``when``) or the rest of the map (for a
    wait). A past moment follows ``if_past``; a missing date skips an action always, and a wait
    as ``if_past`` says."""
    if moment.missed is None:
        return False
    return (action and moment.no_date) or spec.skips_if_past


# ---------------------------------------------------------------- the moment


def _zone(wanted: str | None, contact_timezone: str | None, fallback_tz: str | None) -> ZoneInfo | None:
    if wanted and wanted != "contact":
        return ZoneInfo(wanted)
    for name in (contact_timezone, fallback_tz):
        if name:
            try:
                return ZoneInfo(name)
            except (ValueError, KeyError):
                continue
    return None


def _moment(spec: Timing, fields: dict[str, Any], zone: ZoneInfo | None, now: datetime) -> datetime:
    if spec.until:
        return spec.until.astimezone(UTC)
    if not spec.until_field:
        return _slot(spec, now + timedelta(seconds=spec.delay_seconds), zone)
    base = _field_instant(spec.until_field, fields.get(spec.until_field), zone)
    offset = spec.offset.to_timedelta() if spec.offset else timedelta()
    if not spec.yearly:
        return _slot(spec, base + offset, zone)
    candidates = [_slot(spec, _in_year(base, year, zone) + offset, zone) for year in range(now.year - 1, now.year + 2)]
    return next((moment for moment in candidates if moment >= now), candidates[-1])


def _slot(spec: Timing, start: datetime, zone: ZoneInfo | None) -> datetime:
    """The first allowed moment at or after ``start`` (``start`` itself without at/between/weekdays)."""
    if not spec.local_slot:
        return start
    if zone is None:
        raise WaitFieldError("no timezone to read the time of day in: neither the contact nor the map has one")
    allowed = {WEEKDAYS.index(day) for day in spec.weekdays} if spec.weekdays else set(range(7))
    if spec.window:
        return _in_window(start, zone, *spec.window, allowed)
    return _next_at(start, zone, spec.time_of_day, allowed)


def _field_instant(name: str, value: Any, zone: ZoneInfo | None) -> datetime:
    """A contact's date field as an instant; dates and naive times are read in ``zone``."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time())
    else:
        try:
            parsed = datetime.fromisoformat(str(value).strip())
        except ValueError:
            shown = "missing" if value in (None, "") else f"not a date ({value!r})"
            raise WaitFieldError(f"field {name!r} is {shown}") from None
    if parsed.tzinfo:
        return parsed.astimezone(UTC)
    if zone is None:
        raise WaitFieldError(f"field {name!r} ({value}) has no timezone, and neither has the contact nor the map")
    return _local(parsed.date(), parsed.time(), zone)


def _in_year(instant: datetime, year: int, zone: tzinfo | None) -> datetime:
    """The same wall-clock day and time in ``year`` (29 February is 28 February in other years)."""
    local = instant.astimezone(zone) if zone else instant
    try:
        day = local.date().replace(year=year)
    except ValueError:  # 29 February, in a year without one
        day = date(year, 2, 28)
    return _local(day, local.time(), local.tzinfo)


def _local(day: date, at: time, zone: tzinfo | None) -> datetime:
    """The instant of wall-clock ``day at`` in ``zone``. A time skipped by a DST change (02:30 on
    the night clocks go forward) is read with the offset before the change: 03:30 on the clock."""
    return datetime.combine(day, at.replace(tzinfo=None), tzinfo=zone).astimezone(UTC)


def _next_at(start: datetime, zone: ZoneInfo, at: time | None, allowed: set[int]) -> datetime:
    """The first instant >= ``start`` at time of day ``at`` (if given) on an allowed weekday."""
    local_day = start.astimezone(zone).date()
    for offset in range(8):
        day = local_day + timedelta(days=offset)
        if day.weekday() not in allowed:
            continue
        if at is None:
            return start if offset == 0 else _local(day, time(), zone)
        candidate = _local(day, at, zone)
        if candidate >= start:
            return candidate
    raise AssertionError("a week always has an allowed slot")  # pragma: no cover


def _in_window(start: datetime, zone: ZoneInfo, opens_at: time, closes_at: time, allowed: set[int]) -> datetime:
    """``start`` when it falls inside a window, else the next window's opening. A window belongs to
    the day it opens; one that closes at or before its opening time (22:00-06:00) ends next day."""
    local_day = start.astimezone(zone).date()
    for offset in range(-1, 9):
        day = local_day + timedelta(days=offset)
        if day.weekday() not in allowed:
            continue
        opens = _local(day, opens_at, zone)
        closes = _local(day + timedelta(days=1 if closes_at <= opens_at else 0), closes_at, zone)
        if start < opens:
            return opens
        if start < closes:
            return start
    raise AssertionError("a week always has an allowed window")  # pragma: no cover


def _words(spec: Timing) -> str:
    """The timing in words for a reason on the history: ``webinar_at minus 1 hour``."""
    if spec.until:
        return "the date-time"
    words = spec.until_field or ""
    seconds = spec.offset.total_seconds if spec.offset else 0
    if seconds:
        words += f" {'minus' if seconds < 0 else 'plus'} {duration_words(abs(seconds))}"
    if spec.at:
        words += f" at {spec.at}"
    if spec.between:
        words += f" between {spec.between[0]} and {spec.between[1]}"
    if spec.weekdays:
        words += f" on {', '.join(spec.weekdays)}"
    return words
