"""A fake Stripe on 127.0.0.1 that answers as Stripe's API does (https://docs.stripe.com/api):
Bearer auth, list and search envelopes, ``{"error": {...}}`` bodies (401, 402 card_error,
404 resource_missing, 400 idempotency_error), and Idempotency-Key: a repeated key gets the first
answer back (``Idempotent-Replayed: true``) and changes nothing again."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from tests.providers.server import FakeProvider, Received

API_KEY = "sk_test_automaps_4eC39HqLyjWDarjtT1zdp7dc"


def error(status: int, type_: str, message: str, **more: Any) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"type": type_, "message": message, **more}}


@dataclass
class FakeStripe(FakeProvider):
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    charges: list[dict[str, Any]] = field(default_factory=list)
    cancellations: list[str] = field(default_factory=list)
    idempotent: dict[str, tuple[str, str, bytes, int, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__()
        self._ids = itertools.count(1)

    # ---------------------------------------------------------------- givens

    def customer(self, email: str, id_: str | None = None) -> str:
        id_ = id_ or f"cus_{next(self._ids):04d}"
        self.customers[id_] = {"id": id_, "object": "customer", "email": email}
        return id_

    def subscription(self, customer: str, product: str = "prod_gold", status: str = "active",
                     id_: str | None = None) -> str:
        id_ = id_ or f"sub_{next(self._ids):04d}"
        self.subscriptions[id_] = {
            "id": id_, "object": "subscription", "customer": customer, "status": status,
            "items": {"object": "list", "data": [{"id": f"si_{id_}", "price": {
                "id": f"price_{product}", "product": product}}]}}
        return id_

    def invoice(self, customer: str, amount: int = 4900, status: str = "open", card: str = "ok",
                id_: str | None = None) -> str:
        """``card``: ``ok``, or a decline code (``insufficient_funds``, ``generic_decline``...)."""
        id_ = id_ or f"in_{next(self._ids):04d}"
        self.invoices[id_] = {"id": id_, "object": "invoice", "customer": customer, "status": status,
                              "amount_due": amount, "amount_paid": 0, "currency": "usd", "_card": card}
        return id_

    # ---------------------------------------------------------------- the API

    def handle(self, request: Received) -> tuple[int, Any]:
        if request.header("Authorization") != f"Bearer {API_KEY}":
            return error(401, "invalid_request_error", "Invalid API Key provided: sk_test_****")
        key = request.header("Idempotency-Key")
        if key and request.method in {"POST", "DELETE"}:
            seen = self.idempotent.get(key)
            if seen:
                if seen[:3] != (request.method, request.path, request.body):
                    return error(400, "idempotency_error", "Keys for idempotent requests can only be used with "
                                 "the same parameters they were first used with.")
                return seen[3], seen[4]
            status, body = self._route(request)
            self.idempotent[key] = (request.method, request.path, request.body, status, body)
            return status, body
        return self._route(request)

    def _route(self, request: Received) -> tuple[int, Any]:
        query = dict(request.query)
        method, path = request.method, request.path
        if (method, path) == ("GET", "/v1/customers/search"):
            found = re.fullmatch(r"email:'((?:[^'\\]|\\.)*)'", query.get("query", ""))
            if not found:
                return error(400, "invalid_request_error", "Invalid search query", param="query")
            email = re.sub(r"\\(.)", r"\1", found[1]).lower()
            return 200, self._page([c for c in self.customers.values() if c["email"].lower() == email], query,
                                   "search_result")
        if (method, path) == ("GET", "/v1/subscriptions"):
            status = query.get("status", "active")
            return 200, self._page([s for s in self.subscriptions.values() if s["customer"] == query.get("customer")
                                    and (status == "all" or s["status"] == status)], query)
        if (method, path) == ("GET", "/v1/invoices"):
            return 200, self._page([self._public(i) for i in self.invoices.values()
                                    if i["customer"] == query.get("customer")
                                    and i["status"] == query.get("status", i["status"])], query)
        if method == "DELETE" and (found := re.fullmatch(r"/v1/subscriptions/([^/]+)", path)):
            return self._cancel(found[1], query)
        if method == "POST" and (found := re.fullmatch(r"/v1/invoices/([^/]+)/pay", path)):
            return self._pay(found[1])
        return error(404, "invalid_request_error", f"Unrecognized request URL ({method}: {path}).")

    def _cancel(self, id_: str, query: dict[str, str]) -> tuple[int, Any]:
        subscription = self.subscriptions.get(id_)
        if subscription is None:
            return error(404, "invalid_request_error", f"No such subscription: '{id_}'", code="resource_missing",
                         param="id")
        if subscription["status"] == "canceled":
            return error(400, "invalid_request_error", "A canceled subscription can only update its "
                         "cancellation_details and metadata.")
        subscription.update(status="canceled",
                            cancellation_details={"comment": query.get("cancellation_details[comment]")})
        self.cancellations.append(id_)
        return 200, subscription

    def _pay(self, id_: str) -> tuple[int, Any]:
        invoice = self.invoices.get(id_)
        if invoice is None:
            return error(404, "invalid_request_error", f"No such invoice: '{id_}'", code="resource_missing",
                         param="invoice")
        if invoice["status"] == "paid":
            return error(400, "invalid_request_error", "Invoice is already paid", code="invoice_already_paid")
        if invoice["_card"] != "ok":
            return error(402, "card_error", "Your card was declined.", code="card_declined",
                         decline_code=invoice["_card"], charge=f"ch_declined_{id_}")
        invoice.update(status="paid", amount_paid=invoice["amount_due"])
        self.charges.append({"invoice": id_, "amount": invoice["amount_due"], "currency": invoice["currency"]})
        return 200, self._public(invoice)

    @staticmethod
    def _public(invoice: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in invoice.items() if not k.startswith("_")}

    @staticmethod
    def _page(items: list[dict[str, Any]], query: dict[str, str], kind: str = "list") -> dict[str, Any]:
        limit = int(query.get("limit", 10))
        if after := query.get("starting_after"):
            ids = [item["id"] for item in items]
            items = items[ids.index(after) + 1:] if after in ids else []
        if page := query.get("page"):
            items = items[int(page):]
        offset = int(query.get("page", 0))
        envelope = {"object": kind, "data": items[:limit], "has_more": len(items) > limit}
        if kind == "search_result":
            envelope["next_page"] = str(offset + limit) if len(items) > limit else None
        return envelope
