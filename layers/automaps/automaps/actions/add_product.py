"""add_product: give the contact a product (Sales Jet "Add Product to Lead", usually a free one)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from automaps import clock
from automaps.store.commerce import CommerceStore, Product, ProductId, step_entry

if TYPE_CHECKING:
    from automaps.journeys.steps import Outcome, StepContext


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"examples": [{"product": "free-guide"}]})

    product: ProductId = Field(description="the product's id")
    quantity: int = Field(default=1, ge=1, le=10000, description="how many (1 to 10,000)")


def run(ctx: StepContext, settings: Settings) -> Outcome:
    """Add the product once: a contact who already has it keeps it as it is (nothing recorded)."""
    from automaps.journeys import once

    done = once.recorded(ctx)
    if done is not None:
        return done
    product = Product(product_id=settings.product, quantity=settings.quantity, added_at=clock.now())
    stored, added = CommerceStore().add_product(
        ctx.contact.id,
        product,
        lambda p: step_entry(ctx, "product.added", {"product": p.product_id, "quantity": p.quantity}),
        visit=ctx.event.idempotency_key,
    )
    detail: dict[str, Any] = {"product": stored.product_id, "quantity": stored.quantity}
    if not added:
        return ctx.outcome("done", "the contact already has the product", **detail)
    return ctx.outcome("done", **detail)
