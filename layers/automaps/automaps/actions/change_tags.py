"""change_tags: add and remove tags."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from automaps.journeys.steps import Outcome, StepContext


class Settings(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_extra={"examples": [{"add": ["customer"], "remove": ["lead"]}]}
    )

    add: list[str] = Field(
        default_factory=list, description="tags to add (at least one tag in add or remove; none in both)"
    )
    remove: list[str] = Field(default_factory=list, description="tags to take off")

    @model_validator(mode="after")
    def _something_to_do(self) -> Settings:
        if not self.add and not self.remove:
            raise ValueError("change_tags needs at least one tag under add or remove")
        both = set(self.add) & set(self.remove)
        if both:
            raise ValueError(f"tags both added and removed: {', '.join(sorted(both))}")
        return self


def run(ctx: StepContext, settings: Settings) -> Outcome:
    """Change the tags; ``tags.changed`` records what actually changed (nothing: not recorded), in
    the same transaction as the change, once per visit."""
    from automaps.journeys import once

    done = once.recorded(ctx)
    if done is not None:
        return done
    _, added, removed = ctx.store.change_tags(
        ctx.contact.id, add=settings.add, remove=settings.remove, effect=once.effect(ctx, "tags.changed")
    )
    change: dict[str, Any] = {"added": sorted(added), "removed": sorted(removed)}
    if not added and not removed:
        return ctx.outcome("done", "tags already as requested", **change)
    return ctx.outcome("done", **change)
