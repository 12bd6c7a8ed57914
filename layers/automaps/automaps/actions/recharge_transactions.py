"""recharge_transactions: charge again the contact's invoices that are in collections (open or
marked uncollectible at the payment provider), as Ontraport's "Recharge Transactions"."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from automaps.providers import payments
from automaps.steps import PermanentError, Skip, StepContext, TransientError


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    connection: str = Field(min_length=1, description="a payment connection (content/connections/<name>.yaml)")


def run(ctx: StepContext, settings: Settings) -> dict[str, Any]:
    provider = payments.connect(settings.connection)
    customers = provider.find_customers(ctx.contact.email, ctx.contact.fields)
    if not customers:
        raise Skip("no customer at the payment provider for this contact", {"connection": settings.connection})
    invoices = [invoice for customer in customers for invoice in provider.open_invoices(customer)]
    if not invoices:
        raise Skip("the contact has no transactions in collections",
                   {"connection": settings.connection, "customers": customers})
    results: list[dict[str, Any]] = []
    try:
        for invoice in invoices:
            key = f"{ctx.event.idempotency_key}:pay:{invoice.id}"  # the same on every retry of this visit
            try:
                results.append(provider.pay_invoice(invoice.id, key).as_detail())
            except PermanentError as error:  # this invoice cannot be charged (gone, already paid, ...)
                results.append({"invoice": invoice.id, "status": "failed", "message": error.reason})
    except TransientError:
        if results:  # charges already made stay on the history; the retry does the rest
            ctx.record_effect("transactions.recharged", _detail(settings, results, partial=True))
        raise
    detail = _detail(settings, results)
    ctx.record_effect("transactions.recharged", detail)
    unpaid = [r for r in results if r["status"] != "paid"]
    if unpaid:
        return {"outcome": "failed", "detail": detail,
                "reason": f"{len(unpaid)} of {len(results)} transactions not recharged: "
                          + "; ".join(f"{r['invoice']}: {r.get('code') or r['status']}"
                                      f"{' (' + r['decline_code'] + ')' if r.get('decline_code') else ''}"
                                      for r in unpaid)}
    return detail


def _detail(settings: Settings, results: list[dict[str, Any]], partial: bool = False) -> dict[str, Any]:
    paid = [r for r in results if r["status"] == "paid"]
    return {"connection": settings.connection, "results": results, "paid": len(paid),
            "not_paid": len(results) - len(paid), **({"partial": True} if partial else {})}
