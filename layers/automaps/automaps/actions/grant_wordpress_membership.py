"""grant_wordpress_membership: give the contact access to a WordPress membership site: the
WordPress user with the contact's email (created if there is none) gets the membership role."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from automaps.journeys.steps import Skip, StepContext
from automaps.providers import wordpress


class Settings(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_extra={"examples": [{"connection": "members-site", "role": "member"}]}
    )

    connection: str = Field(min_length=1, description="a wordpress connection (content/connections/<name>.yaml)")
    role: str = Field(description="the membership role's slug, e.g. 'member'")

    @field_validator("role")
    @classmethod
    def _role(cls, value: str) -> str:
        return wordpress.check_role(value)


def run(ctx: StepContext, settings: Settings) -> dict[str, Any]:
    email = (ctx.contact.email or "").strip()
    if not email:
        raise Skip("the contact has no email address", {"connection": settings.connection})
    site = wordpress.connect(settings.connection)

    def grant() -> dict[str, Any]:
        user = site.find_user(email)
        created = user is None
        if user is None:
            user = site.create_user(
                email,
                [settings.role],
                first_name=str(ctx.contact.fields.get("first_name") or ""),
                last_name=str(ctx.contact.fields.get("last_name") or ""),
            )
        elif settings.role in user.roles:
            raise Skip(
                f"the WordPress user already has role {settings.role!r}",
                {"connection": settings.connection, "user_id": user.id},
            )
        else:
            user = site.set_roles(user.id, [*user.roles, settings.role])
        return {
            "connection": settings.connection,
            "user_id": user.id,
            "role": settings.role,
            "created": created,
            "roles": list(user.roles),
        }

    # once per visit: a retry after the grant went through reports it, not "already has role"
    return ctx.once("wordpress", grant, kind="wordpress.access_granted")
