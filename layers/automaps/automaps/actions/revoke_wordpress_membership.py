"""revoke_wordpress_membership: take the membership role from the WordPress user with the
contact's email (the user and their other roles stay)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from automaps.journeys.steps import Skip, StepContext
from automaps.providers import wordpress


class Settings(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [{"connection": "members-site", "role": "member", "fallback_role": "subscriber"}]
        },
    )

    connection: str = Field(min_length=1, description="a wordpress connection (content/connections/<name>.yaml)")
    role: str = Field(description="the membership role's slug, e.g. 'member'")
    fallback_role: str | None = Field(
        default=None,
        description="given when the membership role was the user's only one (e.g. 'subscriber'); "
        "without it such a user is left with no role on the site",
    )

    @field_validator("role", "fallback_role")
    @classmethod
    def _role(cls, value: str | None) -> str | None:
        return None if value is None else wordpress.check_role(value)


def run(ctx: StepContext, settings: Settings) -> dict[str, Any]:
    email = (ctx.contact.email or "").strip()
    if not email:
        raise Skip("the contact has no email address", {"connection": settings.connection})
    site = wordpress.connect(settings.connection)

    def revoke() -> dict[str, Any]:
        user = site.find_user(email)
        if user is None:
            raise Skip("no WordPress user has the contact's email", {"connection": settings.connection})
        if settings.role not in user.roles:
            raise Skip(
                f"the WordPress user does not have role {settings.role!r}",
                {"connection": settings.connection, "user_id": user.id},
            )
        remaining = [role for role in user.roles if role != settings.role]
        if not remaining and settings.fallback_role:
            remaining = [settings.fallback_role]
        user = site.set_roles(user.id, remaining)
        return {"connection": settings.connection, "user_id": user.id, "role": settings.role, "roles": list(user.roles)}

    # once per visit: a retry after the revocation went through reports it, not "does not have role"
    return ctx.once("wordpress", revoke, kind="wordpress.access_revoked")
