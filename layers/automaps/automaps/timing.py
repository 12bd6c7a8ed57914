"""Time in maps: durations, `when` (when an action runs) and `wait` specs, with their checks.

Kept apart from the map model so the functions that resolve waits at run time import only this.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from functools import cache
from typing import Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo, available_timezones

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

MAX_WAIT_DAYS = 365
MAX_SPREAD_SECONDS = 6 * 3600
"""The longest spread window of a synchronized moment (docs/map-format.md, "Spreading")."""
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
    def _not_empty(self) -> Duration:
        if not any((self.seconds, self.minutes, self.hours, self.days, self.weeks)):
            raise ValueError("a duration needs at least one of seconds, minutes, hours, days, weeks")
        return self

    def to_timedelta(self) -> timedelta:
        return timedelta(seconds=self.seconds, minutes=self.minutes, hours=self.hours, days=self.days, weeks=self.weeks)

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
        raise ValueError('write the time of day in quotes, e.g. at: "09:30" (YAML reads an unquoted 9:30 as a number)')
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


def _window(value: Any) -> Any:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError('between is a window of two times of day, in quotes: between: ["09:00", "17:00"]')
    return tuple(value)


Window = Annotated[tuple[TimeOfDay, TimeOfDay], BeforeValidator(_window)]
WaitTimezone = Annotated[str, AfterValidator(_wait_timezone)]


def duration_words(seconds: int) -> str:
    """``183600`` -> ``2 days 3 hours``."""
    parts = []
    for unit, size in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {unit}{'' if count == 1 else 's'}")
    return " ".join(parts) or "0 seconds"


def spread_fraction(*parts: str) -> float:
    """A contact's place in a spread window, in [0, 1): deterministic in ``parts`` (the contact,
    the map and the step), uniform over contacts."""
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def spread(moment: datetime, window_seconds: float, *parts: str, before: datetime | None = None) -> datetime:
    """``moment`` moved later by the contact's offset in ``[0, window)`` (whole milliseconds): a
    synchronized moment ("at 09:00", the end of quiet hours) spread over the window, so that a
    timezone's contacts do not all wake in the same second. Never earlier than ``moment``; with
    ``before`` (the end of a window, the start of quiet hours) the offset is scaled to stay before it."""
    span = float(window_seconds)
    if before is not None:
        span = min(span, (before - moment).total_seconds())
    if span <= 0:
        return moment
    offset_ms = int(spread_fraction(*parts) * span * 1000)
    return moment + timedelta(milliseconds=offset_ms)


def _spread_window(duration: Duration) -> Duration:
    if not 0 < duration.total_seconds <= MAX_SPREAD_SECONDS:
        raise ValueError(
            f"spread must be a positive duration of at most 6 hours (e.g. {{minutes: 15}}); got "
            f"{duration_words(max(duration.total_seconds, 0))}"
        )
    return duration


SpreadWindow = Annotated[Duration, AfterValidator(_spread_window)]


class Timing(BaseModel):
    """When something happens: what a ``wait`` step and an action's ``when`` share.

    1. A start: now plus a delay (``days: 2`` or ``delay: {days: 2}``), or an exact date-time
       (``until``, or ``at`` given a date-time), or the contact's date field ``until_field`` plus
       ``offset`` (``yearly``: the field's next anniversary); nothing: now.
    2. Then, optionally, the first allowed moment at or after the start in ``timezone``
       ("contact": the contact's own, else the map's): ``at`` a time of day, or inside the window
       ``between`` (at once when the start is inside it), on ``weekdays``.
    3. ``if_past``: what to do when the moment of a date (until / until_field) has already passed:
       ``run`` (the default: at once) or ``skip``.
    4. ``spread``: a moment many contacts share (a time of day, the opening of a window, a date)
       moves later by each contact's own offset in ``[0, spread)`` (the map's ``waits.spread``, else
       the stack's, when not given; automaps.journeys.journey.resolve_wait).
    """

    model_config = _STRICT
    noun: ClassVar[str] = "a wait"
    ask: ClassVar[str] = "say what to wait for"

    seconds: float = 0
    minutes: float = 0
    hours: float = 0
    days: float = 0
    weeks: float = 0
    delay: PositiveDuration | None = None
    until: AwareDatetime | None = None
    until_field: FieldName | None = None
    offset: Duration | None = None
    yearly: bool = False
    at: TimeOfDay | None = None
    between: Window | None = None
    weekdays: list[Weekday] | None = Field(default=None, min_length=1)
    timezone: WaitTimezone | None = None
    if_past: Literal["run", "skip"] | None = None
    spread: SpreadWindow | None = Field(default=None, exclude_if=lambda value: value is None)

    @model_validator(mode="before")
    @classmethod
    def _at_a_date_time(cls, data: Any) -> Any:
        """``at`` with a whole date-time (``at: 2026-12-24T09:00:00Z``) means ``until``."""
        if not isinstance(data, dict) or not _is_date_time(data.get("at")):
            return data
        if data.get("until") is not None:
            raise ValueError("at (a date-time) and until say the same thing; keep one of them")
        moment = data["at"]
        moment = moment if isinstance(moment, datetime) else datetime.fromisoformat(moment)
        if moment.tzinfo is None:
            raise ValueError(
                "add a timezone to the date-time in at, e.g. 2026-03-01T09:00:00Z or 2026-03-01T10:00:00+01:00"
            )
        return {**{k: v for k, v in data.items() if k != "at"}, "until": moment}

    @property
    def delay_seconds(self) -> int:
        """The delay part in whole seconds (0 when there is none)."""
        units = (self.seconds, self.minutes * 60, self.hours * 3600, self.days * 86400, self.weeks * 604800)
        return int(sum(units)) + (self.delay.total_seconds if self.delay else 0)

    @property
    def time_of_day(self) -> time | None:
        return time.fromisoformat(self.at) if self.at else None

    @property
    def window(self) -> tuple[time, time] | None:
        return (time.fromisoformat(self.between[0]), time.fromisoformat(self.between[1])) if self.between else None

    @property
    def local_slot(self) -> bool:
        """True when a time of day, window or weekdays moves the moment (in some timezone)."""
        return bool(self.at or self.between or self.weekdays)

    @property
    def in_contact_timezone(self) -> bool:
        """True when times of day / weekdays are read in the contact's timezone (else the map's)."""
        return self.local_slot and self.timezone in (None, "contact")

    @property
    def can_be_past(self) -> bool:
        """Only a date can be already past; a delay or a time of day is always ahead."""
        return bool(self.until or (self.until_field and not self.yearly))

    @property
    def skips_if_past(self) -> bool:
        return self.if_past == "skip"

    @property
    def synchronized(self) -> bool:
        """True when contacts share the moment (a time of day, a window's opening, weekdays, a
        date): what a spread window spreads. A delay alone is each contact's own."""
        return bool(self.local_slot or self.until or self.until_field)

    @property
    def needs_resolving(self) -> bool:
        """True when the moment depends on the contact or the clock at run time (a spread: on the
        contact)."""
        return bool(
            self.until_field or self.local_slot or (self.until and self.skips_if_past) or self.spread is not None
        )

    @model_validator(mode="after")
    def _consistent(self) -> Timing:
        for problem in self._problems():
            raise ValueError(problem)
        return self

    def _problems(self) -> Iterator[str]:
        units = (self.seconds, self.minutes, self.hours, self.days, self.weeks)
        starts = [
            name
            for name, given in (
                ("a delay", any(units) or self.delay),
                ("a date-time", self.until),
                ("until_field", self.until_field),
            )
            if given
        ]
        if any(unit < 0 for unit in units):
            yield f"{self.noun} cannot be negative; to be before a date use until_field with an offset"
        if any(units) and self.delay:
            yield "give the delay once: delay: {hours: 4} or hours: 4, not both"
        if len(starts) > 1:
            yield (f"{self.noun} takes one of a delay, a date-time (until) or until_field; got {' and '.join(starts)}")
        if not starts and not self.local_slot:
            yield (
                f"{self.ask}: a delay (days: 2), until (a date-time), until_field (a date field), "
                'at ("09:00"), between (["09:00", "17:00"]) or weekdays'
            )
        if self.delay_seconds > MAX_WAIT_DAYS * 86400:
            yield f"a delay can last at most {MAX_WAIT_DAYS} days (the limit of one execution)"
        if (self.offset is not None or self.yearly) and not self.until_field:
            yield "offset and yearly only apply to until_field (e.g. until_field: webinar_at, offset: {hours: -1})"
        if self.until and (self.local_slot or self.timezone):
            yield "until is an exact date-time; drop at, between, weekdays and timezone, or use a delay instead"
        if self.at and self.between:
            yield "use at (one time of day) or between (a window), not both"
        if self.between and self.between[0] == self.between[1]:
            yield 'a window needs two different times, e.g. between: ["09:00", "17:00"]'
        if self.timezone and not (self.local_slot or self.until_field):
            yield "timezone applies to at, between, weekdays and dates read from until_field; add one or remove timezone"
        if self.weekdays and len(set(self.weekdays)) != len(self.weekdays):
            yield "weekdays lists a day twice"
        if self.spread is not None and not self.synchronized:
            yield (
                "spread applies to a moment contacts share (at, between, weekdays, until, until_field); "
                "a delay alone is already each contact's own: remove spread"
            )
        if self.if_past and not self.can_be_past:
            yield (
                "if_past applies to a date (until, or until_field without yearly); a delay, a time of day or "
                "a yearly date is never past; remove if_past"
            )


class WaitSpec(Timing):
    """What a ``wait`` step waits for (docs/map-format.md, "wait")."""


class When(Timing):
    """When an action runs (docs/map-format.md, "When to run"); without ``when``, at once."""

    noun: ClassVar[str] = "'when'"
    ask: ClassVar[str] = "say when to run"


def timing_problem(spec: Timing, map_timezone: str | None) -> str | None:
    """What is wrong with ``spec`` in a map whose fallback timezone is ``map_timezone``: times of
    day in the contact's timezone need a timezone for contacts whose own is unknown."""
    if map_timezone or not spec.in_contact_timezone:
        return None
    parts = " and ".join(f"'{key}'" for key in ("at", "between", "weekdays") if getattr(spec, key))
    return (
        f"{parts} {'is' if ' and ' not in parts else 'are'} read in the contact's timezone, but this map has no "
        "timezone for contacts whose own is unknown; add one at the top of the map (e.g. timezone: "
        "America/New_York), or give this step a fixed timezone (e.g. timezone: Europe/Paris)"
    )


def _is_date_time(value: Any) -> bool:
    if isinstance(value, datetime):
        return True
    if not isinstance(value, str) or len(value) <= 5:
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True
