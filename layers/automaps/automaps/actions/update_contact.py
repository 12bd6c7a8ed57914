"""update_contact: set fields (literal values, merge fields, relative dates) and clear fields."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from automaps import clock
from automaps.timing import Duration

if TYPE_CHECKING:
    from automaps.journeys.steps import Outcome, StepContext


class RelativeDate(BaseModel):
    """``{from_now: {days: 30}}``, ``{ago: {hours: 2}}`` or ``{now: true}``; stored as UTC ISO-8601."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    from_now: Duration | None = None
    ago: Duration | None = None
    now: bool | None = None

    @model_validator(mode="after")
    def _one(self) -> RelativeDate:
        if sum(x is not None for x in (self.from_now, self.ago, self.now)) != 1:
            raise ValueError("a relative date has exactly one of from_now, ago, now")
        return self

    def resolve(self, now: datetime) -> str:
        """The date as UTC ISO-8601 with a trailing Z."""
        if self.from_now is not None:
            return clock.iso(now + self.from_now.to_timedelta())
        if self.ago is not None:
            return clock.iso(now - self.ago.to_timedelta())
        return clock.iso(now)


FieldValue = RelativeDate | str | int | float | bool | list[str] | None


class Settings(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "set": {"status": "client", "client_since": {"now": True}, "renew_on": {"from_now": {"days": 365}}},
                    "clear": ["trial_ends"],
                }
            ]
        },
    )

    set: dict[str, FieldValue] = Field(
        default_factory=dict,
        description="field -> value: text (merge fields allowed), a number, true/false, a list of texts, or a "
        "relative date {now: true}, {from_now: {days: 30}}, {ago: {hours: 2}}",
    )
    clear: list[str] = Field(default_factory=list, description="fields to clear (not email)")

    @model_validator(mode="after")
    def _something_to_do(self) -> Settings:
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


def run(ctx: StepContext, settings: Settings) -> Outcome:
    """Set (literal, merge-field or relative-date values) and clear fields; ``contact.updated``
    records the names of the fields that actually changed."""
    from automaps.journeys import once
    from automaps.journeys.steps import PermanentError
    from automaps.store.contacts import EmailInUse

    done = once.recorded(ctx)
    if done is not None:
        return done
    values = {name: _resolve(ctx, name, value) for name, value in settings.set.items()}
    clear = [*settings.clear, *(name for name, value in values.items() if value is None)]
    values = {name: value for name, value in values.items() if value is not None}
    before = ctx.contact.fields
    try:
        after = ctx.store.update_fields(
            ctx.contact.id, values, clear, effect=once.effect(ctx, "contact.updated")
        ).fields
    except EmailInUse as error:
        raise PermanentError(str(error)) from None
    change: dict[str, Any] = {
        "set": sorted(k for k in values if after.get(k) != before.get(k)),
        "cleared": sorted(k for k in clear if k in before),
    }
    if not change["set"] and not change["cleared"]:
        return ctx.outcome("done", "fields already as requested", **change)
    return ctx.outcome("done", **change)


def _resolve(ctx: StepContext, name: str, value: FieldValue) -> Any:
    if isinstance(value, RelativeDate):
        return value.resolve(ctx.now)
    if isinstance(value, str) and ("{{" in value or "{%" in value):
        return ctx.render(value, where=f"set.{name} of step {ctx.event.step_id!r}")
    return value
