"""The one source of time.

Everything that needs "now" calls :func:`now`. Lambdas use the system clock; the local runtime
installs a virtual clock (see ``automaps_local.clock``) so that a two-day wait takes no real time
and the timestamps handlers record match the simulated timeline.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that stays where it is put; handy in unit tests."""

    def __init__(self, at: datetime) -> None:
        self.at = at if at.tzinfo else at.replace(tzinfo=UTC)

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        from datetime import timedelta

        self.at = self.at + timedelta(**delta)


_clock: Clock = SystemClock()


def now() -> datetime:
    return _clock.now()


def iso(at: datetime | None = None) -> str:
    """UTC ISO-8601 with a trailing Z, the form Step Functions Wait states expect."""
    at = (at or now()).astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S") + (f".{at.microsecond:06d}Z" if at.microsecond else "Z")


def get_clock() -> Clock:
    return _clock


def set_clock(clock: Clock) -> Clock:
    """Install ``clock``; returns the previous one."""
    global _clock
    previous, _clock = _clock, clock
    return previous


@contextlib.contextmanager
def using(clock: Clock) -> Iterator[Clock]:
    previous = set_clock(clock)
    try:
        yield clock
    finally:
        set_clock(previous)
