"""recharge_transactions: charge again the contact's invoices that are in collections (open or
marked uncollectible at the payment provider), as Ontraport's "Recharge Transactions".

Each charge is an effect of the visit (``pay:<invoice>``) with Stripe's ``Idempotency-Key``
(visit + invoice): a retry after a lost answer repeats it with the same key and gets the
original answer, never a second charge; one ``transactions.recharged`` entry per visit."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from automaps.journeys.steps import PermanentError, Skip, StepContext
from automaps.providers import payments

EFFECT = "pay:"


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"examples": [{"connection": "stripe"}]})

    connection: str = Field(min_length=1, description="a payment connection (content/connections/<name>.yaml)")


def run(ctx: StepContext, settings: Settings) -> dict[str, Any]:
    provider = payments.connect(settings.connection)
    customers = provider.find_customers(ctx.contact.email, ctx.contact.fields)
    if not customers:
        raise Skip("no customer at the payment provider for this contact", {"connection": settings.connection})
    ids = [invoice.id for customer in customers for invoice in provider.open_invoices(customer)]
    # a retry of this visit: invoices it paid are no longer open, but they were paid here
    ids += [
        m.effect.removeprefix(EFFECT) for m in ctx.earlier_effects(EFFECT) if m.effect.removeprefix(EFFECT) not in ids
    ]
    if not ids:
        raise Skip(
            "the contact has no transactions in collections",
            {"connection": settings.connection, "customers": customers},
        )
    results: list[dict[str, Any]] = []
    for invoice in ids:

        def pay(invoice: str = invoice) -> dict[str, Any]:
            key = f"{ctx.event.idempotency_key}:pay:{invoice}"  # the same on every retry of this visit
            return provider.pay_invoice(invoice, key).as_detail()

        try:
            results.append(ctx.once(f"{EFFECT}{invoice}", pay, replayable=True))
        except PermanentError as error:  # this invoice cannot be charged (gone, already paid, ...)
            results.append({"invoice": invoice, "status": "failed", "message": error.reason})
    detail = _detail(settings, results)
    ctx.once("transactions.recharged", lambda: detail, kind="transactions.recharged")
    unpaid = [r for r in results if r["status"] != "paid"]
    if unpaid:
        return {
            "outcome": "failed",
            "detail": detail,
            "reason": f"{len(unpaid)} of {len(results)} transactions not recharged: "
            + "; ".join(
                f"{r['invoice']}: {r.get('code') or r['status']}"
                f"{' (' + r['decline_code'] + ')' if r.get('decline_code') else ''}"
                for r in unpaid
            ),
        }
    return detail


def _detail(settings: Settings, results: list[dict[str, Any]]) -> dict[str, Any]:
    paid = [r for r in results if r["status"] == "paid"]
    return {
        "connection": settings.connection,
        "results": results,
        "paid": len(paid),
        "not_paid": len(results) - len(paid),
    }
