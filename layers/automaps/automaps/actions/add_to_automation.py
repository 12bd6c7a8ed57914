"""add_to_automation: add the contact to another map (its added_to_automation trigger); with return (default), they come back to the next step when that map ends."""

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
        json_schema_extra={"examples": [{"map": "customer-onboarding"}]},
    )

    map: str = Field(pattern=f"^{MAP_ID_PATTERN}$", description="the id of the map")
    return_: bool = Field(
        default=True,
        alias="return",
        description="wait for the contact to come back (the other map's end or exit) before the next step; "
        "false: go on at once",
    )


def run(ctx: StepContext, settings: Settings) -> Any:
    from automaps.journeys import moves

    return moves.add(ctx, settings.map, wait=settings.return_, kinds=("map",))
