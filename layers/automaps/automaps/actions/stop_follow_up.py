"""stop_follow_up: cancel the contact's follow-up: none of its further actions run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from automaps.maps.triggers import MAP_ID_PATTERN

if TYPE_CHECKING:
    from automaps.journeys.steps import StepContext


class Settings(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        json_schema_extra={"examples": [{"follow_up": "sales-calls"}]},
    )

    follow_up: str = Field(pattern=f"^{MAP_ID_PATTERN}$", description="the id of the follow-up")


def run(ctx: StepContext, settings: Settings) -> Any:
    from automaps.journeys import moves

    return moves.remove(ctx, settings.follow_up, kinds=("follow_up",))
