"""add_to_list: put the contact on an email broadcast list (once: adding twice is one membership)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from automaps.journeys.steps import Outcome, Skip, StepContext
from automaps.store import lists


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"examples": [{"list": "vip-customers"}]})

    list: str = Field(description=f"the broadcast list: {lists.NAME_RULE}")

    @field_validator("list")
    @classmethod
    def _name(cls, value: str) -> str:
        return lists.check_name(value)


def run(ctx: StepContext, settings: Settings) -> dict[str, Any] | Outcome:
    from automaps.journeys import once

    done = once.recorded(ctx)
    if done is not None:
        return done
    if not (ctx.contact.email or "").strip():
        raise Skip("the contact has no email address", {"list": settings.list})
    if not lists.ListStore().add("list", settings.list, ctx.contact.id, effect=once.effect(ctx, "list.added")):
        return {"outcome": "done", "reason": "already on the list", "detail": {"list": settings.list}}
    return {"list": settings.list}
