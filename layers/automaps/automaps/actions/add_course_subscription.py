"""add_course_subscription: subscribe the contact to a course (Sales Jet "Add TJ Subscription",
a Training Jet subscription), stored on the contact; subscribing again changes the plan/start."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from automaps import clock
from automaps.store.commerce import CommerceStore, CourseId, CourseSubscription, step_entry
from automaps.timing import Duration

if TYPE_CHECKING:
    from automaps.journeys.steps import Outcome, StepContext
    from automaps.store.contacts import HistoryEntry

PLAN = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
_STRICT = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Start(BaseModel):
    """``{in: {days: 1}}`` (from when the step runs) or ``{at: 2027-01-04T09:00:00Z}``."""

    model_config = _STRICT

    in_: Duration | None = Field(default=None, alias="in")
    at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _one(self) -> Start:
        if (self.in_ is None) == (self.at is None):
            raise ValueError("start is either {in: <duration>} or {at: <date and time with timezone>}")
        return self

    def resolve(self, base: datetime) -> datetime:
        return base + self.in_.to_timedelta() if self.in_ is not None else self.at  # type: ignore[return-value]


class Settings(BaseModel):
    model_config = ConfigDict(**_STRICT, json_schema_extra={"examples": [{"course": "python-101", "plan": "monthly"}]})

    course: CourseId = Field(description="the course's id")
    plan: str = Field(default="standard", description="e.g. monthly, yearly, lifetime")
    start: Start | None = Field(default=None, description="when the subscription starts; now when absent")

    @field_validator("plan")
    @classmethod
    def _plan(cls, value: str) -> str:
        if not PLAN.fullmatch(value):
            raise ValueError(f"plan {value!r} must be lowercase letters, digits, '_' or '-', e.g. monthly")
        return value


def run(ctx: StepContext, settings: Settings) -> Outcome:
    from automaps.journeys import once

    done = once.recorded(ctx)
    if done is not None:
        return done
    base = clock.now()
    wanted = CourseSubscription(
        course_id=settings.course,
        plan=settings.plan,
        starts_at=settings.start.resolve(base) if settings.start else base,
        subscribed_at=base,
        visit=ctx.event.idempotency_key,
    )

    def record(old: CourseSubscription | None) -> HistoryEntry:
        detail: dict[str, Any] = {
            "course": wanted.course_id,
            "plan": wanted.plan,
            "starts_at": clock.iso(wanted.starts_at),
        }
        if old is not None:
            detail["previous"] = {"plan": old.plan, "starts_at": clock.iso(old.starts_at)}
        return step_entry(ctx, "course.subscribed", detail)

    stored, changed = CommerceStore().subscribe_course(ctx.contact.id, wanted, record, visit=ctx.event.idempotency_key)
    detail = {"course": stored.course_id, "plan": stored.plan, "starts_at": clock.iso(stored.starts_at)}
    if not changed:
        return ctx.outcome("done", "the contact already has this subscription", **detail)
    return ctx.outcome("done", **detail)
