"""add_purchase: add a product to the contact's purchase history (Ontraport "Add Product to
Purchase History"), which fires the purchase event: ``purchase.made`` on the history."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator

from automaps import clock
from automaps.store.commerce import (
    CommerceStore,
    ProductId,
    Purchase,
    purchase_id,
    step_entry,
)

if TYPE_CHECKING:
    from automaps.journeys.steps import Outcome, StepContext

CURRENCY = re.compile(r"[A-Z]{3}")


def check_currency(value: str) -> str:
    if not CURRENCY.fullmatch(value):
        raise ValueError(f"currency {value!r} must be an ISO 4217 code in capitals, e.g. USD or EUR")
    return value


class Settings(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {"product": "course-101", "price": 49.0, "currency": "USD", "order_id": "{{ event.fields.order_id }}"}
            ]
        },
    )

    product: ProductId = Field(description="the product's id")
    quantity: int = Field(default=1, ge=1, le=10000, description="how many (1 to 10,000)")
    price: Decimal = Field(ge=0, max_digits=12, decimal_places=2, description="unit price, e.g. 49.00")
    currency: str = Field(description="ISO 4217 code, e.g. USD")
    order_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="merge fields allowed, e.g. '{{ event.fields.order_id }}'; one "
        "purchase per order id (without one: one per visit of the step)",
    )

    _currency = field_validator("currency")(check_currency)


def run(ctx: StepContext, settings: Settings) -> Outcome:
    from automaps.journeys import once

    done = once.recorded(ctx)
    if done is not None:
        return done
    order_id = (
        ctx.render(settings.order_id, where=f"the order_id of step {ctx.event.step_id!r}").strip()
        if settings.order_id
        else None
    )
    purchase = Purchase(
        purchase_id=purchase_id(order_id, ctx.event.idempotency_key),
        product_id=settings.product,
        quantity=settings.quantity,
        price=settings.price,
        currency=settings.currency,
        total=settings.price * settings.quantity,
        order_id=order_id or None,
        purchased_at=clock.now(),
    )
    detail = purchase.history_detail()
    made = CommerceStore().add_purchase(
        ctx.contact.id, purchase, step_entry(ctx, "purchase.made", detail), visit=ctx.event.idempotency_key
    )
    if not made:
        return ctx.outcome("done", "the purchase is already in the purchase history", **detail)
    return ctx.outcome("done", **detail)
