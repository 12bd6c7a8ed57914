"""send_sms: render a text with merge fields and send it to the contact's phone."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = Field(min_length=1, max_length=1600)
    to: str | None = Field(default=None, description="merge expression; defaults to the contact's phone")
    sender_id: str | None = None
