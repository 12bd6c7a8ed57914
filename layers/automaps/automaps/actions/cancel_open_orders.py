"""cancel_open_orders: cancel the contact's payment plans and recurring orders at the payment
provider (Ontraport's "Cancel Open Orders"), so the contact is not charged for them again.

Each cancellation is an effect of the visit (``cancel:<order>``) sent with Stripe's
``Idempotency-Key`` (visit + order): a retry after a lost answer repeats it with the same key and
gets the original answer, and an order a first attempt cancelled is reported as cancelled, not
as "no open orders". One ``orders.cancelled`` entry per visit lists them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from automaps.journeys.steps import PermanentError, Skip, StepContext
from automaps.providers import payments

EFFECT = "cancel:"


class Settings(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"examples": [{"connection": "stripe", "products": ["price_monthly"]}]},
    )

    connection: str = Field(min_length=1, description="a payment connection (content/connections/<name>.yaml)")
    products: tuple[str, ...] | None = Field(
        default=None, description="cancel only orders for these product or price ids; all open orders if omitted"
    )

    @field_validator("products")
    @classmethod
    def _products(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        cleaned = tuple(item.strip() for item in value)
        if not cleaned or any(not item for item in cleaned):
            raise ValueError(
                "list the product or price ids to cancel (e.g. [prod_Gold]), "
                "or leave 'products' out to cancel every open order"
            )
        if len(set(cleaned)) != len(cleaned):
            raise ValueError("a product is listed twice in 'products'")
        return cleaned


def run(ctx: StepContext, settings: Settings) -> dict[str, Any]:
    provider = payments.connect(settings.connection)
    customers = provider.find_customers(ctx.contact.email, ctx.contact.fields)
    if not customers:
        raise Skip("no customer at the payment provider for this contact", {"connection": settings.connection})
    wanted = set(settings.products or ())
    ids = [
        order.id
        for customer in customers
        for order in provider.open_subscriptions(customer)
        if not wanted or order.products & wanted
    ]
    # a retry of this visit: orders it cancelled are no longer open, but they were cancelled here
    ids += [
        m.effect.removeprefix(EFFECT) for m in ctx.earlier_effects(EFFECT) if m.effect.removeprefix(EFFECT) not in ids
    ]
    if not ids:
        raise Skip(
            "the contact has no open orders" + (" for these products" if wanted else ""),
            {"connection": settings.connection, "customers": customers},
        )
    comment = f"automaps map {ctx.event.map_id}, step {ctx.event.step_id}"
    cancelled: list[str] = []
    failed: list[dict[str, Any]] = []
    for order in ids:

        def cancel(order: str = order) -> dict[str, Any]:
            # Stripe's Idempotency-Key: the same visit and order is the same cancellation, answered alike
            key = f"{ctx.event.idempotency_key}:cancel:{order}"
            return {"status": provider.cancel_subscription(order, key, comment)}

        try:
            ctx.once(f"{EFFECT}{order}", cancel, replayable=True)
            cancelled.append(order)
        except PermanentError as error:
            failed.append({"id": order, "reason": error.reason})
    detail = _detail(settings, customers, cancelled, failed)
    ctx.once("orders.cancelled", lambda: detail, kind="orders.cancelled")
    if failed:
        return {
            "outcome": "failed",
            "detail": detail,
            "reason": f"{len(failed)} of {len(ids)} orders could not be cancelled: "
            + "; ".join(f"{f['id']}: {f['reason']}" for f in failed),
        }
    return detail


def _detail(
    settings: Settings, customers: list[str], cancelled: list[str], failed: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "connection": settings.connection,
        "customers": customers,
        "cancelled": cancelled,
        **({"failed": failed} if failed else {}),
    }
