"""create_special_offer: a discount on given products for this contact (Sales Jet "Create Special
Offer"); an offer with the same id is updated. ``{{ offer.* }}`` merge fields can show it
(automaps.store.commerce.current_offers)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from automaps import clock
from automaps.actions.add_purchase import check_currency
from automaps.journeys.steps import Skip
from automaps.store.commerce import (
    CommerceStore,
    Discount,
    Offer,
    OfferId,
    ProductId,
    offer_code,
    step_entry,
)
from automaps.timing import Duration

if TYPE_CHECKING:
    from automaps.journeys.steps import Outcome, StepContext

CODE = re.compile(r"[A-Z0-9][A-Z0-9-]{2,31}")
_STRICT = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class DiscountSettings(BaseModel):
    """``{percent: 20}`` or ``{amount: 15, currency: EUR}``."""

    model_config = _STRICT

    percent: Decimal | None = Field(default=None, gt=0, le=100, decimal_places=2)
    amount: Decimal | None = Field(default=None, gt=0, max_digits=12, decimal_places=2)
    currency: str | None = None

    _currency = field_validator("currency")(lambda value: value if value is None else check_currency(value))

    @model_validator(mode="after")
    def _percent_or_amount(self) -> DiscountSettings:
        if (self.percent is None) == (self.amount is None):
            raise ValueError("a discount is either {percent: N} or {amount: N, currency: XXX}")
        if self.amount is not None and self.currency is None:
            raise ValueError("an amount discount needs its currency, e.g. {amount: 15, currency: USD}")
        if self.percent is not None and self.currency is not None:
            raise ValueError("a percent discount has no currency; remove 'currency'")
        return self


class Expiry(BaseModel):
    """``{in: {days: 7}}`` (from when the step runs) or ``{at: 2026-12-31T23:59:59Z}``."""

    model_config = _STRICT

    in_: Duration | None = Field(default=None, alias="in")
    at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _one(self) -> Expiry:
        if (self.in_ is None) == (self.at is None):
            raise ValueError("expires is either {in: <duration>} or {at: <date and time with timezone>}")
        if self.in_ is not None and self.in_.to_timedelta() <= timedelta(0):
            raise ValueError("expires.in must be a positive duration")
        return self

    def resolve(self, start: datetime) -> datetime:
        return start + self.in_.to_timedelta() if self.in_ is not None else self.at  # type: ignore[return-value]


class Settings(BaseModel):
    model_config = ConfigDict(
        **_STRICT,
        json_schema_extra={
            "examples": [
                {
                    "offer": "welcome-10",
                    "products": ["course-101"],
                    "discount": {"percent": 10},
                    "expires": {"in": {"days": 7}},
                }
            ]
        },
    )

    offer: OfferId = Field(description="the offer's id; creating it again updates it")
    products: list[ProductId] = Field(
        min_length=1, max_length=100, description="the ids of the products the discount applies to"
    )
    discount: DiscountSettings = Field(description="{percent: 10}, or {amount: 5, currency: USD}")
    expires: Expiry | None = Field(default=None, description="no expiry when absent")
    code: str | None = Field(default=None, description="generated (stable per contact and offer) when absent")

    @field_validator("products")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        repeated = sorted({p for p in value if value.count(p) > 1})
        if repeated:
            raise ValueError(f"products listed more than once: {', '.join(repeated)}")
        return value

    @field_validator("code")
    @classmethod
    def _code(cls, value: str | None) -> str | None:
        if value is not None and not CODE.fullmatch(value):
            raise ValueError(f"code {value!r} must be 3 to 32 capital letters, digits or '-', e.g. SPRING-20")
        return value


def run(ctx: StepContext, settings: Settings) -> Outcome:
    from automaps.journeys import once

    done = once.recorded(ctx)
    if done is not None:
        return done
    now = clock.now()
    expires_at = settings.expires.resolve(now) if settings.expires else None
    if expires_at is not None and expires_at <= now:
        raise Skip(
            "the offer's expiry has already passed", {"offer": settings.offer, "expires_at": clock.iso(expires_at)}
        )
    discount = Discount.model_validate(settings.discount.model_dump())

    def make(old: Offer | None) -> Offer:
        if old is not None and old.visit == ctx.event.idempotency_key:
            return old  # a retry of the visit that wrote it: keep its expiry as computed then
        return Offer(
            offer_id=settings.offer,
            products=list(settings.products),
            discount=discount,
            code=settings.code or offer_code(ctx.contact.id, settings.offer),
            expires_at=expires_at,
            created_at=old.created_at if old else now,
            updated_at=now,
            visit=ctx.event.idempotency_key,
        )

    def record(old: Offer | None, new: Offer) -> Any:
        return step_entry(ctx, "offer.updated" if old else "offer.created", _detail(new))

    offer, change = CommerceStore().put_offer(
        ctx.contact.id, settings.offer, make, record, visit=ctx.event.idempotency_key
    )
    if change == "unchanged":
        return ctx.outcome("done", "the contact already has this offer", **_detail(offer))
    return ctx.outcome("done", change=change, **_detail(offer))


def _detail(offer: Offer) -> dict[str, Any]:
    fields = offer.merge_fields()
    return {"offer": fields.pop("id"), **{k: v for k, v in fields.items() if v is not None}}
