"""unpause_sequence: unpause the contact on a legacy sequence."""

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
        json_schema_extra={"examples": [{"sequence": "onboarding-tips"}]},
    )

    sequence: str = Field(pattern=f"^{MAP_ID_PATTERN}$", description="the id of the sequence")


def run(ctx: StepContext, settings: Settings) -> Any:
    from automaps.journeys import moves

    return moves.unpause_in(ctx, settings.sequence, kinds=("sequence",))
