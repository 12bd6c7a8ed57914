"""assign_task: a task for a team member about the contact (call them, check their paperwork),
with a due date, listed and completed through the admin API (automaps.store.tasks, automaps.api.admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from automaps.journeys.steps import Outcome, PermanentError, StepContext
from automaps.store.contacts import mask_email
from automaps.store.tasks import Task, TaskStore, task_id_for
from automaps.timing import Duration


class DueIn(BaseModel):
    """``due: {in: {days: 2}}``: that long after the step runs."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    in_: Duration = Field(alias="in")


class DueAt(BaseModel):
    """``due: {at: 2026-12-01T09:00:00Z}``: a fixed time (with its offset)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at: AwareDatetime


class Settings(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "assignee": "sam@example.com",
                    "title": "Call {{ contact.first_name | default('the lead') }}",
                    "description": "Ask how the first days went.",
                    "due": {"in": {"days": 1}},
                    "priority": "high",
                }
            ]
        },
    )

    assignee: str = Field(
        min_length=1,
        max_length=320,
        description="the team member's email, or a merge expression such as '{{ contact.owner }}'",
    )
    title: str = Field(min_length=1, max_length=200, description="merge fields allowed")
    description: str = Field(default="", max_length=5000, description="merge fields allowed")
    due: DueIn | DueAt = Field(description="when it is due: {in: {days: 2}} after the step runs, or {at: <date-time>}")
    priority: Literal["low", "normal", "high"] = Field(default="normal", description="low, normal or high")

    @field_validator("assignee")
    @classmethod
    def _an_address(cls, value: str) -> str:
        if "{{" in value:
            return value
        return _address(
            value,
            lambda problem: ValueError(
                f"assignee {value!r} is not an email address ({problem}); write the team member's email, "
                "like sam@example.com, or a merge expression like '{{ contact.owner }}'"
            ),
        )

    @field_validator("due", mode="before")
    @classmethod
    def _one_form(cls, value: Any) -> Any:
        if isinstance(value, dict) and ("in" in value) == ("at" in value):
            raise ValueError(
                "due needs exactly one of 'in' (e.g. {in: {days: 2}}) or 'at' (e.g. {at: '2026-12-01T09:00:00Z'})"
            )
        return value


def _address(value: str, error: Any) -> str:
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as problem:
        raise error(problem) from None


def run(ctx: StepContext, settings: Settings) -> dict[str, Any] | Outcome:
    from automaps.journeys import once

    done = once.recorded(ctx)
    if done is not None:
        return done
    step = f"step {ctx.event.step_id!r}"
    assignee = settings.assignee
    if "{{" in assignee:
        rendered = ctx.render(assignee, where=f"the assignee of {step}")
        assignee = _address(
            rendered, lambda _: PermanentError(f"the assignee is not an email address: {mask_email(rendered)}")
        )
    title = " ".join(ctx.render(settings.title, where=f"the title of {step}").split())
    description = ctx.render(settings.description, where=f"the description of {step}") if settings.description else ""
    task = Task(
        task_id=task_id_for(ctx.contact.id, ctx.event.idempotency_key),
        contact_id=ctx.contact.id,
        assignee=assignee,
        title=title[:200],
        description=description,
        priority=settings.priority,
        due_at=_due(ctx.now, settings.due),
        created_at=ctx.now,
        map_id=ctx.event.map_id,
        step_id=ctx.event.step_id,
    )
    detail = {"task_id": task.task_id, "assignee": mask_email(assignee), "due_at": task.public()["due_at"]}
    if not TaskStore().create(
        task, once.effect(ctx, "task.assigned"), {**detail, "title": task.title, "priority": task.priority}
    ):
        return {"outcome": "done", "reason": "task already assigned", "detail": detail}
    return detail


def _due(now: datetime, due: DueIn | DueAt) -> datetime:
    return now + due.in_.to_timedelta() if isinstance(due, DueIn) else due.at
