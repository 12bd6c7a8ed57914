"""remove_product: take a product away from the contact (Sales Jet "Remove Product from Lead")."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from automaps.store.commerce import CommerceStore, ProductId, step_entry

if TYPE_CHECKING:
    from automaps.journeys.steps import Outcome, StepContext


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"examples": [{"product": "free-guide"}]})

    product: ProductId = Field(description="the product's id")


def run(ctx: StepContext, settings: Settings) -> Outcome:
    """Remove the product; a contact without it is left as it is (nothing recorded)."""
    from automaps.journeys import once

    done = once.recorded(ctx)
    if done is not None:
        return done
    removed = CommerceStore().remove_product(
        ctx.contact.id,
        settings.product,
        lambda p: step_entry(ctx, "product.removed", {"product": p.product_id, "quantity": p.quantity}),
        visit=ctx.event.idempotency_key,
    )
    if removed is None:
        return ctx.outcome("done", "the contact does not have the product", product=settings.product)
    return ctx.outcome("done", product=removed.product_id, quantity=removed.quantity)
