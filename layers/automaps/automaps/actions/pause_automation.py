"""pause_automation: pause the contact on another map: they sit on the step they are on until unpaused."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from automaps.maps.triggers import MAP_ID_PATTERN

if TYPE_CHECKING:
    from automaps.journeys.steps import StepContext


class Settings(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, json_schema_extra={"examples": [{"map": "lead-nurture"}]}
    )

    map: str = Field(pattern=f"^{MAP_ID_PATTERN}$", description="the id of the map")


def run(ctx: StepContext, settings: Settings) -> Any:
    from automaps.journeys import moves

    return moves.pause_in(ctx, settings.map, kinds=("map",))
