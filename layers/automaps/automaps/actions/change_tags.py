"""change_tags: add and remove tags."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    add: list[str] = Field(default_factory=list)
    remove: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _something_to_do(self) -> "Settings":
        if not self.add and not self.remove:
            raise ValueError("change_tags needs at least one tag under add or remove")
        both = set(self.add) & set(self.remove)
        if both:
            raise ValueError(f"tags both added and removed: {', '.join(sorted(both))}")
        return self
