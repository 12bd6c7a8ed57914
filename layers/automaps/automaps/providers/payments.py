"""Payment providers: where the contact's recurring orders and unpaid invoices live.

``connect(name)`` returns the adapter for a connection (``content/connections/<name>.yaml``);
the adapter for each connection type is listed in :data:`ADAPTERS`. The first is Stripe (and
any Stripe-compatible API at ``api_base``): form-encoded requests, Bearer auth with the secret
key from Secrets Manager, and an ``Idempotency-Key`` on every call that changes something, so a
retried step never cancels or charges twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from automaps.providers.adapters import (
    check_base_url,
    check_secret_arn,
    load_connection,
    secret,
)
from automaps.providers.http import JsonClient, ProviderError

PAGE_SIZE = 100
MAX_PAGES = 20


class StripeConnection(BaseModel):
    """``type: stripe``: a Stripe account (or a Stripe-compatible API)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["stripe"]
    secret_arn: str = Field(
        description="Secrets Manager secret holding the secret key (sk_...), "
        "as the whole value or under 'api_key' in a JSON object"
    )
    api_base: str = Field(default="https://api.stripe.com")
    customer_field: str = Field(
        default="stripe_customer_id",
        min_length=1,
        description="contact field holding the Stripe customer id, when known",
    )
    description: str | None = None

    @field_validator("secret_arn")
    @classmethod
    def _secret_arn(cls, value: str) -> str:
        return check_secret_arn(value)

    @field_validator("api_base")
    @classmethod
    def _api_base(cls, value: str) -> str:
        return check_base_url(value)


# ------------------------------------------------------------------ what the actions see


@dataclass(frozen=True)
class Subscription:
    id: str
    customer: str
    status: str
    products: frozenset[str] = field(default_factory=frozenset)  # product and price ids


@dataclass(frozen=True)
class Invoice:
    id: str
    customer: str
    status: str
    amount_due: int
    currency: str


@dataclass(frozen=True)
class Payment:
    """The result of paying one invoice: ``paid``, or ``declined`` with the provider's reason."""

    invoice: str
    status: Literal["paid", "declined"]
    amount: int | None = None
    currency: str | None = None
    code: str | None = None
    decline_code: str | None = None
    message: str | None = None

    def as_detail(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if value is not None}


class PaymentProvider(Protocol):
    name: str

    def find_customers(self, email: str | None, fields: dict[str, Any]) -> list[str]: ...
    def open_subscriptions(self, customer: str) -> list[Subscription]: ...
    def cancel_subscription(self, subscription: str, idempotency_key: str, comment: str) -> str: ...
    def open_invoices(self, customer: str) -> list[Invoice]: ...
    def pay_invoice(self, invoice: str, idempotency_key: str) -> Payment: ...


# ------------------------------------------------------------------ Stripe


class StripePayments:
    """Stripe's REST API (https://docs.stripe.com/api)."""

    OPEN_SUBSCRIPTION_STATUSES = ("active", "trialing", "past_due")
    COLLECTIBLE_INVOICE_STATUSES = ("open", "uncollectible")

    def __init__(self, name: str, connection: StripeConnection) -> None:
        self.name = name
        self.connection = connection
        key = secret(connection.secret_arn, "api_key")
        self.http = JsonClient("Stripe", connection.api_base, {"Authorization": f"Bearer {key}"})

    def find_customers(self, email: str | None, fields: dict[str, Any]) -> list[str]:
        """The stored customer id, else the customers whose email is the contact's."""
        stored = fields.get(self.connection.customer_field)
        if isinstance(stored, str) and stored.strip():
            return [stored.strip()]
        if not email:
            return []
        quoted = email.strip().replace("\\", "\\\\").replace("'", "\\'")
        found = self._list("/v1/customers/search", {"query": f"email:'{quoted}'"})
        return [customer["id"] for customer in found]

    def open_subscriptions(self, customer: str) -> list[Subscription]:
        subscriptions: list[Subscription] = []
        for status in self.OPEN_SUBSCRIPTION_STATUSES:
            for item in self._list("/v1/subscriptions", {"customer": customer, "status": status}):
                products: set[str] = set()
                for line in (item.get("items") or {}).get("data", []):
                    price = line.get("price") or {}
                    products |= {value for value in (price.get("id"), _id(price.get("product"))) if value}
                subscriptions.append(
                    Subscription(
                        id=item["id"],
                        customer=customer,
                        status=item.get("status", status),
                        products=frozenset(products),
                    )
                )
        return subscriptions

    def cancel_subscription(self, subscription: str, idempotency_key: str, comment: str) -> str:
        """Cancel now; returns the subscription's status afterwards (``canceled``)."""
        answer = self.http.request(
            "DELETE",
            f"/v1/subscriptions/{subscription}",
            query={"cancellation_details": {"comment": comment}},
            headers={"Idempotency-Key": idempotency_key},
        )
        return str((answer or {}).get("status", "canceled"))

    def open_invoices(self, customer: str) -> list[Invoice]:
        invoices: list[Invoice] = []
        for status in self.COLLECTIBLE_INVOICE_STATUSES:
            for item in self._list("/v1/invoices", {"customer": customer, "status": status}):
                invoices.append(
                    Invoice(
                        id=item["id"],
                        customer=customer,
                        status=item.get("status", status),
                        amount_due=int(item.get("amount_due") or 0),
                        currency=str(item.get("currency") or ""),
                    )
                )
        return invoices

    def pay_invoice(self, invoice: str, idempotency_key: str) -> Payment:
        """Charge the invoice's payment method; a card decline is a ``declined`` Payment."""
        try:
            answer = self.http.request(
                "POST", f"/v1/invoices/{invoice}/pay", form={}, headers={"Idempotency-Key": idempotency_key}
            )
        except ProviderError as error:
            if error.status == 402 or error.type == "card_error":
                return Payment(
                    invoice=invoice,
                    status="declined",
                    code=error.code,
                    decline_code=error.extra.get("decline_code"),
                    message=error.message,
                )
            raise
        return Payment(
            invoice=invoice,
            status="paid",
            amount=int(answer.get("amount_paid") or 0),
            currency=str(answer.get("currency") or "") or None,
        )

    def _list(self, path: str, query: dict[str, Any]) -> list[dict[str, Any]]:
        """Every item of a Stripe list or search, following its pages."""
        items: list[dict[str, Any]] = []
        page: dict[str, Any] = {}
        for _ in range(MAX_PAGES):
            answer = self.http.request("GET", path, query={**query, "limit": PAGE_SIZE, **page}) or {}
            data = answer.get("data") or []
            items.extend(data)
            if not answer.get("has_more") or not data:
                break
            page = {"page": answer["next_page"]} if answer.get("next_page") else {"starting_after": data[-1]["id"]}
        return items


def _id(value: Any) -> str | None:
    """An id, or the id of an expanded object."""
    if isinstance(value, dict):
        return value.get("id")
    return value if isinstance(value, str) and value else None


ADAPTERS: dict[str, type] = {"stripe": StripePayments}


def connect(name: str) -> PaymentProvider:
    """The payment provider behind connection ``name``; PermanentError if there is none."""
    settings = load_connection(name, ADAPTERS, "a payment provider")
    return ADAPTERS[settings.type](name, settings)
