"""update_contact: set fields (literal values, merge fields, relative dates) and clear fields."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from automaps.timing import Duration


class RelativeDate(BaseModel):
    """``{from_now: {days: 30}}``, ``{ago: {hours: 2}}`` or ``{now: true}``; stored as UTC ISO-8601."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    from_now: Duration | None = None
    ago: Duration | None = None
    now: bool | None = None

    @model_validator(mode="after")
    def _one(self) -> "RelativeDate":
        if sum(x is not None for x in (self.from_now, self.ago, self.now)) != 1:
            raise ValueError("a relative date has exactly one of from_now, ago, now")
        return self


FieldValue = RelativeDate | str | int | float | bool | list[str] | None


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    set: dict[str, FieldValue] = Field(default_factory=dict)
    clear: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _something_to_do(self) -> "Settings":
        if not self.set and not self.clear:
            raise ValueError("update_contact needs at least one field under set or clear")
        both = set(self.set) & set(self.clear)
        if both:
            raise ValueError(f"fields both set and cleared: {', '.join(sorted(both))}")
        if "email" in self.clear:
            raise ValueError("the email field identifies the contact and cannot be cleared")
        return self

    def literal_values(self) -> dict[str, Any]:
        return {k: v for k, v in self.set.items() if not isinstance(v, RelativeDate)}
