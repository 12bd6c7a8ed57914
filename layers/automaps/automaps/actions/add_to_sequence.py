"""add_to_sequence: add the contact to a legacy sequence (a map of kind: sequence); with return (default), they come back after its last step (or when removed)."""

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
        json_schema_extra={"examples": [{"sequence": "onboarding-tips", "return": False}]},
    )

    sequence: str = Field(pattern=f"^{MAP_ID_PATTERN}$", description="the id of the sequence")
    return_: bool = Field(
        default=True,
        alias="return",
        description="wait for the contact to come back (after the sequence's last step, or when removed) "
        "before the next step; false: go on at once",
    )


def run(ctx: StepContext, settings: Settings) -> Any:
    from automaps.journeys import moves

    return moves.add(ctx, settings.sequence, wait=settings.return_, kinds=("sequence",))
