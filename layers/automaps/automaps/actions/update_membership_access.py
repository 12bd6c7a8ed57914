"""update_membership_access: set the contact's access to a membership site to enabled, suspended
or disabled (Ontraport "Update Membership Access"); each change is recorded with old and new."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from automaps.store.commerce import AccessStatus, CommerceStore, SiteId, step_entry

if TYPE_CHECKING:
    from automaps.journeys.steps import Outcome, StepContext


class Settings(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_extra={"examples": [{"site": "members", "status": "suspended"}]}
    )

    site: SiteId = Field(description="the membership site")
    status: AccessStatus = Field(description="enabled, suspended or disabled")


def run(ctx: StepContext, settings: Settings) -> Outcome:
    from automaps.journeys import once

    done = once.recorded(ctx)
    if done is not None:
        return done
    old, changed = CommerceStore().set_access(
        ctx.contact.id,
        settings.site,
        settings.status,
        lambda previous: step_entry(
            ctx, "membership.access_changed", {"site": settings.site, "old": previous, "new": settings.status}
        ),
        visit=ctx.event.idempotency_key,
    )
    detail = {"site": settings.site, "old": old, "new": settings.status}
    if not changed:
        return ctx.outcome("done", f"access is already {settings.status}", site=settings.site, status=settings.status)
    return ctx.outcome("done", **detail)
