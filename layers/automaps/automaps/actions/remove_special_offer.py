"""remove_special_offer: remove the contact's special offer (Sales Jet "Remove Special Offer")."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from automaps.store.commerce import CommerceStore, OfferId, step_entry

if TYPE_CHECKING:
    from automaps.journeys.steps import Outcome, StepContext


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"examples": [{"offer": "welcome-10"}]})

    offer: OfferId = Field(description="the id create_special_offer gave it")


def run(ctx: StepContext, settings: Settings) -> Outcome:
    from automaps.journeys import once

    done = once.recorded(ctx)
    if done is not None:
        return done
    removed = CommerceStore().remove_offer(
        ctx.contact.id,
        settings.offer,
        lambda offer: step_entry(ctx, "offer.removed", {"offer": offer.offer_id, "code": offer.code}),
        visit=ctx.event.idempotency_key,
    )
    if removed is None:
        return ctx.outcome("done", "the contact has no such offer", offer=settings.offer)
    return ctx.outcome("done", offer=removed.offer_id, code=removed.code)
