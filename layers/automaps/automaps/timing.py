"""Durations shared by `wait`, `when` and relative dates."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, model_validator


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
