"""Time in maps: durations, `when` (when an action runs) and `wait` specs, with their checks.

Kept apart from the map model so the functions that resolve waits at run time import only this.
"""

from __future__ import annotations

import difflib
import re
from datetime import time, timedelta
from functools import cache
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, available_timezones

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

MAX_WAIT_DAYS = 365
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_STRICT = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
FieldName = Annotated[str, Field(min_length=1, max_length=100)]


def suggest(word: str, options: list[str] | tuple[str, ...]) -> str:
    """`` (did you mean X?)`` when ``word`` looks like a misspelling of one of ``options``."""
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.7)
    return f" (did you mean {close[0]}?)" if close else ""




class Duration(BaseModel):
    """``{days: 2, hours: 4}``: any mix of units; negative values are allowed for offsets."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seconds: float = 0
    minutes: float = 0
    hours: float = 0
    days: float = 0
    weeks: float = 0

    @model_validator(mode="after")
    def _not_empty(self) -> "Duration":
        if not any((self.seconds, self.minutes, self.hours, self.days, self.weeks)):
            raise ValueError("a duration needs at least one of seconds, minutes, hours, days, weeks")
        return self

    def to_timedelta(self) -> timedelta:
        return timedelta(
            seconds=self.seconds, minutes=self.minutes, hours=self.hours, days=self.days, weeks=self.weeks
        )

    @property
    def total_seconds(self) -> int:
        return int(self.to_timedelta().total_seconds())


# ---------------------------------------------------------------- values of maps


@cache
def _zone_names() -> tuple[str, ...]:
    return tuple(sorted(available_timezones()))


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ValueError, KeyError):
        raise ValueError(
            f"unknown timezone {value!r}{suggest(value, _zone_names())}; "
            "use an IANA name such as Europe/Paris, America/New_York or UTC"
        ) from None
    return value


def _wait_timezone(value: str) -> str:
    return value if value == "contact" else _timezone(value)


def _time_of_day(value: Any) -> Any:
    if isinstance(value, int):
        raise ValueError(
            'write the time of day in quotes, e.g. at: "09:30" (YAML reads an unquoted 9:30 as a number)'
        )
    if not isinstance(value, str) or not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
        raise ValueError(f'time of day {value!r} must be "HH:MM" on a 24-hour clock, e.g. "09:00" or "17:30"')
    return value


def _positive(duration: Duration) -> Duration:
    if duration.total_seconds <= 0:
        raise ValueError("must be a positive duration, e.g. {hours: 4}")
    return duration


Timezone = Annotated[str, AfterValidator(_timezone)]
TimeOfDay = Annotated[str, BeforeValidator(_time_of_day)]
PositiveDuration = Annotated[Duration, AfterValidator(_positive)]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class When(BaseModel):
    """When an action runs: ``{delay: {hours: 4}}`` or ``{at: 2026-12-24T09:00:00Z}``."""

    model_config = _STRICT

    delay: PositiveDuration | None = None
    at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _one(self) -> When:
        if (self.delay is None) == (self.at is None):
            raise ValueError("'when' takes exactly one of delay (e.g. {delay: {hours: 4}}) or at (a date-time)")
        return self


class WaitSpec(BaseModel):
    """What a ``wait`` step waits for.

    The wait starts from now plus the delay (``days: 2``), or from ``until`` (a date-time), or
    from the contact's date field ``until_field`` plus ``offset``; then, with ``at`` and/or
    ``weekdays``, it moves on to the first allowed time of day / weekday in ``timezone``
    ("contact": the contact's own, falling back to the map's timezone).
    """

    model_config = _STRICT

    seconds: float = 0
    minutes: float = 0
    hours: float = 0
    days: float = 0
    weeks: float = 0
    until: AwareDatetime | None = None
    until_field: FieldName | None = None
    offset: Duration | None = None
    at: TimeOfDay | None = None
    timezone: Annotated[str, AfterValidator(_wait_timezone)] | None = None
    weekdays: list[Weekday] | None = Field(default=None, min_length=1)

    @property
    def delay_seconds(self) -> int:
        """The delay part in whole seconds (0 when the wait has none)."""
        units = (self.seconds, self.minutes * 60, self.hours * 3600, self.days * 86400, self.weeks * 604800)
        return int(sum(units))

    @property
    def needs_resolving(self) -> bool:
        """True when the end of the wait depends on the contact or the clock at run time."""
        return bool(self.until_field or self.at or self.weekdays)

    @property
    def time_of_day(self) -> time | None:
        return time.fromisoformat(self.at) if self.at else None

    @model_validator(mode="after")
    def _consistent(self) -> WaitSpec:
        delays = (self.seconds, self.minutes, self.hours, self.days, self.weeks)
        starts = [name for name, given in (("a delay", any(delays)), ("until", self.until),
                                           ("until_field", self.until_field)) if given]
        if any(unit < 0 for unit in delays):
            raise ValueError("a wait cannot be negative; to wait until before a date use until_field with an offset")
        if len(starts) > 1:
            raise ValueError(f"a wait takes one of a delay, until or until_field; got {' and '.join(starts)}")
        if not starts and not self.at and not self.weekdays:
            raise ValueError(
                "say what to wait for: a delay (days: 2), until (a date-time), until_field (a date field), "
                'at ("09:00") or weekdays'
            )
        if self.delay_seconds > MAX_WAIT_DAYS * 86400:
            raise ValueError(f"a wait can last at most {MAX_WAIT_DAYS} days (the limit of one execution)")
        if self.offset is not None and not self.until_field:
            raise ValueError("offset only applies to until_field (e.g. until_field: webinar_at, offset: {hours: -1})")
        if self.until and (self.at or self.weekdays or self.timezone):
            raise ValueError("until is an exact date-time; drop at, weekdays and timezone, or use a delay instead")
        if self.timezone and not (self.at or self.weekdays):
            raise ValueError("timezone applies to at and weekdays; add one of them or remove timezone")
        if self.weekdays and len(set(self.weekdays)) != len(self.weekdays):
            raise ValueError("weekdays lists a day twice")
        return self
