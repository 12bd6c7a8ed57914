"""send_email: render a stored template with the contact's merge fields and send it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    template: str = Field(min_length=1, description="name of an email template in the content store")
    connection: str = Field(default="default", description="'default' is Amazon SES")
    to: str | None = Field(default=None, description="merge expression; defaults to the contact's email")
    subject: str | None = Field(default=None, description="overrides the template's subject")
    marketing: bool = Field(default=True, description="adds the unsubscribe link and List-Unsubscribe")
