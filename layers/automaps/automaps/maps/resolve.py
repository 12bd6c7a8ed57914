"""When does a ``wait`` end for this contact? Pure: the caller passes the contact's data and now.

The compiler turns waits that need the contact or the clock (a time of day, weekdays, a date
field) into a ``resolve_wait`` task that calls :func:`resolve_wait` and a Wait state until the
returned instant. The rules (docs/map-format.md, "wait"):

1. the wait starts from now plus the delay, or from the contact's ``until_field`` plus
   ``offset``, or from ``until``;
2. with ``at`` and/or ``weekdays`` it moves on to the first allowed time of day on an allowed
   weekday, in ``timezone`` ("contact": the contact's own timezone, or the map's timezone when
   the contact has none or an unknown one); times of day are wall-clock times, so 09:00 stays
   09:00 across DST changes (a time the change skips is read as one hour later);
3. an end already in the past means "now": the contact moves on at once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from automaps.timing import WEEKDAYS, WaitSpec


class WaitFieldError(ValueError):
    """The contact's ``until_field`` is missing or is not a date: the wait cannot be placed."""


def resolve_wait(
    wait_spec_json: dict[str, Any],
    contact_fields: dict[str, Any],
    contact_timezone: str | None,
    fallback_tz: str,
    now: datetime,
) -> datetime:
    """The UTC instant at which the wait ``wait_spec_json`` (a ``wait`` step as JSON) ends."""
    spec = WaitSpec.model_validate(wait_spec_json)
    zone = _zone(spec.timezone, contact_timezone, fallback_tz)
    start = _start(spec, contact_fields, zone, now)
    if spec.at or spec.weekdays:
        start = _next_slot(start, zone, spec.time_of_day, spec.weekdays)
    return max(start, now).astimezone(UTC)


def _zone(wanted: str | None, contact_timezone: str | None, fallback_tz: str) -> ZoneInfo:
    if wanted and wanted != "contact":
        return ZoneInfo(wanted)
    if contact_timezone:
        try:
            return ZoneInfo(contact_timezone)
        except (ValueError, KeyError):
            pass
    return ZoneInfo(fallback_tz)


def _start(spec: WaitSpec, fields: dict[str, Any], zone: ZoneInfo, now: datetime) -> datetime:
    if spec.until:
        return spec.until
    if spec.until_field:
        start = _field_instant(spec.until_field, fields.get(spec.until_field), zone)
        return start + spec.offset.to_timedelta() if spec.offset else start
    return now + timedelta(seconds=spec.delay_seconds)


def _field_instant(name: str, value: Any, zone: ZoneInfo) -> datetime:
    """A contact's date field as an instant; dates and naive times are read in ``zone``."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time())
    else:
        try:
            parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            shown = "missing" if value in (None, "") else f"not a date ({value!r})"
            raise WaitFieldError(f"field {name!r} is {shown}") from None
    return parsed if parsed.tzinfo else _local(parsed.date(), parsed.time(), zone)


def _local(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The instant of wall-clock ``day at`` in ``zone``. A time skipped by a DST change (02:30 on
    the night clocks go forward) is read with the offset before the change: 03:30 on the clock."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def _next_slot(start: datetime, zone: ZoneInfo, at: time | None, weekdays: list[str] | None) -> datetime:
    """The first instant >= ``start`` at time of day ``at`` (if given) on an allowed weekday."""
    allowed = {WEEKDAYS.index(day) for day in weekdays} if weekdays else set(range(7))
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
