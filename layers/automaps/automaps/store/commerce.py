"""Commerce and access stored on the contact: products, purchases, special offers, course
subscriptions and membership access.

Items in the contacts table, under the contact's ``pk = CONTACT#<id>``:

    PRODUCT#<product id>                      a product the contact has (add_product / remove_product)
    PURCHASE#<product id>#<purchase id>       one purchase in the purchase history; begins_with
                                              PURCHASE#<product id># lists the purchases of a product
    OFFER#<offer id>                          a special offer (discount on products, expiry, code)
    COURSESUB#<course id>                     a course subscription (plan, start, end once unsubscribed)
    ACCESS#<membership site>                  membership access to a site: enabled|suspended|disabled

Times computed from "now" (an offer's expiry ``in`` 3 days, a course's start) would differ on a
retry of the same step visit; the items keep the visit that wrote them, and a retry of that visit
keeps what it wrote.

Every change is written together with its history entry in one DynamoDB transaction, and is
conditional on what was read (``rev``, a revision counter, or the item's absence): a retry after
a crash finds the change made and the entry there, a concurrent writer (a ``rev`` that moved, or a
``TransactionConflict``) makes us re-read. A write that would change nothing writes nothing and
returns ``changed=False``. Given the step ``visit`` (its idempotency key), the transaction also
writes the visit's marker (automaps.store.contacts.Effect), so a retry of the visit knows the change
as its own.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from botocore.exceptions import ClientError
from pydantic import AfterValidator, BaseModel, ConfigDict

from automaps import aws, clock, config
from automaps.store.contacts import (
    HistoryEntry,
    WriteConflict,
    _backoff,
    _history_item,
    _pk,
    effect_refused,
    effect_writes,
    is_conflict,
)
from automaps.store.content import from_item, to_item

PRODUCT_PREFIX = "PRODUCT#"
PURCHASE_PREFIX = "PURCHASE#"
OFFER_PREFIX = "OFFER#"
COURSE_PREFIX = "COURSESUB#"
ACCESS_PREFIX = "ACCESS#"

AccessStatus = Literal["enabled", "suspended", "disabled"]
ACCESS_STATUSES: tuple[str, ...] = ("enabled", "suspended", "disabled")

_WRITE_ATTEMPTS = 10
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}")


def _identifier(what: str, example: str) -> AfterValidator:
    """Ids of products, offers, courses and membership sites (they are parts of sort keys)."""

    def validate(value: str) -> str:
        if not _ID.fullmatch(value):
            raise ValueError(
                f"{what} {value!r} must be 1 to 100 letters, digits, '_', '.', ':' or '-' "
                f"(starting with a letter or digit), e.g. {example}"
            )
        return value

    return AfterValidator(validate)


ProductId = Annotated[str, _identifier("the product id", "ebook-101")]
OfferId = Annotated[str, _identifier("the offer id", "spring-sale")]
CourseId = Annotated[str, _identifier("the course id", "copywriting-basics")]
SiteId = Annotated[str, _identifier("the membership site", "members-area")]
_STORED = ConfigDict(extra="ignore", frozen=True)


# ------------------------------------------------------------------ models (what is stored)


class Product(BaseModel):
    model_config = _STORED
    product_id: str
    quantity: int = 1
    added_at: datetime


class Purchase(BaseModel):
    model_config = _STORED
    purchase_id: str
    product_id: str
    quantity: int = 1
    price: Decimal
    currency: str
    total: Decimal
    order_id: str | None = None
    purchased_at: datetime

    def history_detail(self) -> dict[str, Any]:
        """The ``purchase.made`` entry's detail (amounts as decimal strings; the order id if any)."""
        detail: dict[str, Any] = {
            "purchase_id": self.purchase_id,
            "product": self.product_id,
            "quantity": self.quantity,
            "price": str(self.price),
            "currency": self.currency,
            "total": str(self.total),
        }
        return {**detail, "order_id": self.order_id} if self.order_id else detail


class Discount(BaseModel):
    """``{percent: 20}`` or ``{amount: 15, currency: EUR}``."""

    model_config = _STORED
    percent: Decimal | None = None
    amount: Decimal | None = None
    currency: str | None = None


class Offer(BaseModel):
    model_config = _STORED
    offer_id: str
    products: list[str]
    discount: Discount
    code: str
    expires_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    visit: str | None = None
    """The step visit (idempotency key) that last wrote it: its retries keep what it wrote."""

    def active(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now

    def merge_fields(self) -> dict[str, Any]:
        """What ``{{ offer.* }}`` shows: id, code, products, percent or amount and currency, expires_at."""
        return {
            "id": self.offer_id,
            "code": self.code,
            "products": list(self.products),
            **self.discount.model_dump(mode="json", exclude_none=True),
            "expires_at": clock.iso(self.expires_at) if self.expires_at else None,
        }


class CourseSubscription(BaseModel):
    model_config = _STORED
    course_id: str
    plan: str
    starts_at: datetime
    subscribed_at: datetime
    visit: str | None = None
    """The step visit (idempotency key) that last wrote it: its retries keep what it wrote."""
    ended_at: datetime | None = None
    """When the contact unsubscribed (``course.unsubscribed``); kept so the history reads whole."""

    def active(self, now: datetime) -> bool:
        """Started and not ended at ``now``: what "currently has a subscription" asks."""
        return self.starts_at <= now and (self.ended_at is None or self.ended_at > now)


class MembershipAccess(BaseModel):
    model_config = _STORED
    site: str
    status: AccessStatus
    changed_at: datetime


# ------------------------------------------------------------------ helpers


def entry(
    kind: str,
    detail: dict[str, Any],
    *,
    map_id: str | None = None,
    step_id: str | None = None,
    at: datetime | None = None,
) -> HistoryEntry:
    """A history entry to write together with a change."""
    return HistoryEntry(at=at or clock.now(), kind=kind, detail=detail, map_id=map_id, step_id=step_id)


def step_entry(ctx: Any, kind: str, detail: dict[str, Any]) -> HistoryEntry:
    """A history entry attributed to the step a ``StepContext`` runs."""
    return entry(kind, detail, map_id=ctx.event.map_id, step_id=ctx.event.step_id, at=clock.now())


def offer_code(contact_id: str, offer_id: str) -> str:
    """The generated code of a contact's offer: the same for every retry and update of it."""
    digest = hashlib.sha256(f"automaps.offer|{contact_id}|{offer_id}".encode()).digest()
    return base64.b32encode(digest).decode()[:10]


def purchase_id(order_id: str | None, visit_key: str) -> str:
    """One purchase per order id (when given), else one per visit of the step."""
    source = f"order|{order_id}" if order_id else f"visit|{visit_key}"
    return "p_" + hashlib.sha256(source.encode()).hexdigest()[:24]


def _error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def _cancellation_codes(exc: ClientError) -> list[str]:
    return [reason.get("Code", "None") for reason in exc.response.get("CancellationReasons", [])]


def _stored(model: BaseModel) -> dict[str, Any]:
    """A model as item attributes: JSON types (datetimes and decimals as strings), no Nones."""
    return {k: v for k, v in model.model_dump(mode="json").items() if v is not None}


Decide = Callable[[dict[str, Any] | None], tuple[dict[str, Any] | None, HistoryEntry] | None]
"""Given the stored item (None: absent), what to store (None: delete) and the entry to record,
or None when nothing needs to change."""


# ------------------------------------------------------------------ the store


class CommerceStore:
    def __init__(self, table: str | None = None) -> None:
        self.table = table or config.contacts_table()

    @property
    def _db(self) -> Any:
        return aws.client("dynamodb")

    # -------------------------------------------------------------- products

    def add_product(
        self, contact_id: str, product: Product, record: Callable[[Product], HistoryEntry], visit: str | None = None
    ) -> tuple[Product, bool]:
        """Add the product unless the contact has it; returns what is stored and whether it changed."""

        def decide(old: dict[str, Any] | None) -> tuple[dict[str, Any], HistoryEntry] | None:
            return None if old is not None else (_stored(product), record(product))

        old, changed = self._change(contact_id, f"{PRODUCT_PREFIX}{product.product_id}", decide, visit)
        return (product if changed or old is None else Product.model_validate(old)), changed

    def remove_product(
        self, contact_id: str, product_id: str, record: Callable[[Product], HistoryEntry], visit: str | None = None
    ) -> Product | None:
        """Remove the product; returns what was removed (None: the contact did not have it)."""

        def decide(old: dict[str, Any] | None) -> tuple[None, HistoryEntry] | None:
            return None if old is None else (None, record(Product.model_validate(old)))

        old, changed = self._change(contact_id, f"{PRODUCT_PREFIX}{product_id}", decide, visit)
        return Product.model_validate(old) if changed and old else None

    def products(self, contact_id: str) -> list[Product]:
        return [Product.model_validate(item) for item in self._query(contact_id, PRODUCT_PREFIX)]

    def has_product(self, contact_id: str, product_id: str) -> bool:
        return self._get(contact_id, f"{PRODUCT_PREFIX}{product_id}") is not None

    # -------------------------------------------------------------- purchases

    def add_purchase(self, contact_id: str, purchase: Purchase, record: HistoryEntry, visit: str | None = None) -> bool:
        """Add the purchase to the history once per purchase id; False when it already was."""

        def decide(old: dict[str, Any] | None) -> tuple[dict[str, Any], HistoryEntry] | None:
            return None if old is not None else (_stored(purchase), record)

        _, changed = self._change(contact_id, _purchase_sk(purchase.product_id, purchase.purchase_id), decide, visit)
        return changed

    def purchases(self, contact_id: str, product_id: str | None = None) -> list[Purchase]:
        """The purchase history (of one product when given), ordered by product, then purchase id."""
        prefix = f"{PURCHASE_PREFIX}{product_id}#" if product_id else PURCHASE_PREFIX
        return [Purchase.model_validate(item) for item in self._query(contact_id, prefix)]

    def purchased(self, contact_id: str, product_id: str) -> bool:
        """Whether the contact ever purchased the product (what ``purchased_product`` asks)."""
        found = self._db.query(
            TableName=self.table,
            ConsistentRead=True,
            Limit=1,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues=to_item({":pk": _pk(contact_id), ":prefix": f"{PURCHASE_PREFIX}{product_id}#"}),
        )
        return bool(found["Items"])

    # -------------------------------------------------------------- offers

    def put_offer(
        self,
        contact_id: str,
        offer_id: str,
        make: Callable[[Offer | None], Offer],
        record: Callable[[Offer | None, Offer], HistoryEntry],
        visit: str | None = None,
    ) -> tuple[Offer, Literal["created", "updated", "unchanged"]]:
        """Create the offer, or update the stored one with the same id. ``make(old)`` builds the new
        offer from the stored one (keeping its code and creation time)."""
        result: dict[str, Offer] = {}

        def decide(old_item: dict[str, Any] | None) -> tuple[dict[str, Any], HistoryEntry] | None:
            old = Offer.model_validate(old_item) if old_item else None
            new = result["offer"] = make(old)
            if old is not None and _same_offer(old, new):
                result["offer"] = old
                return None
            return _stored(new), record(old, new)

        old_item, changed = self._change(contact_id, f"{OFFER_PREFIX}{offer_id}", decide, visit)
        if not changed:
            return result["offer"], "unchanged"
        return result["offer"], "updated" if old_item else "created"

    def remove_offer(
        self, contact_id: str, offer_id: str, record: Callable[[Offer], HistoryEntry], visit: str | None = None
    ) -> Offer | None:
        def decide(old: dict[str, Any] | None) -> tuple[None, HistoryEntry] | None:
            return None if old is None else (None, record(Offer.model_validate(old)))

        old, changed = self._change(contact_id, f"{OFFER_PREFIX}{offer_id}", decide, visit)
        return Offer.model_validate(old) if changed and old else None

    def offers(self, contact_id: str) -> list[Offer]:
        return [Offer.model_validate(item) for item in self._query(contact_id, OFFER_PREFIX)]

    # -------------------------------------------------------------- course subscriptions

    def subscribe_course(
        self,
        contact_id: str,
        subscription: CourseSubscription,
        record: Callable[[CourseSubscription | None], HistoryEntry],
        visit: str | None = None,
    ) -> tuple[CourseSubscription, bool]:
        """Subscribe, or change the plan/start of the subscription to the same course (keeping
        when it was first subscribed); returns what is stored and whether it changed. An ended
        subscription is subscribed anew, unless the subscription is older than its end (an event
        delivered late)."""
        result: dict[str, CourseSubscription] = {}

        def decide(old_item: dict[str, Any] | None) -> tuple[dict[str, Any], HistoryEntry] | None:
            old = CourseSubscription.model_validate(old_item) if old_item else None
            ended = old is not None and old.ended_at is not None
            if old is not None and (
                old.visit == subscription.visit
                or (ended and subscription.subscribed_at < old.ended_at)  # type: ignore[operator]
                or (not ended and (old.plan, old.starts_at) == (subscription.plan, subscription.starts_at))
            ):
                result["stored"] = old
                return None
            kept = result["stored"] = (
                subscription.model_copy(update={"subscribed_at": old.subscribed_at})
                if old and not ended
                else subscription
            )
            return _stored(kept), record(old)

        _, changed = self._change(contact_id, f"{COURSE_PREFIX}{subscription.course_id}", decide, visit)
        return result["stored"], changed

    def end_course_subscription(
        self, contact_id: str, course_id: str, at: datetime, record: Callable[[CourseSubscription], HistoryEntry]
    ) -> tuple[CourseSubscription | None, bool]:
        """End the subscription at ``at`` (it stays stored, with ``ended_at``); returns what is
        stored (None: never subscribed) and whether it changed. Ending an ended subscription, or
        one subscribed after ``at`` (an event delivered late), changes nothing."""
        result: dict[str, CourseSubscription | None] = {"stored": None}

        def decide(old_item: dict[str, Any] | None) -> tuple[dict[str, Any], HistoryEntry] | None:
            old = result["stored"] = CourseSubscription.model_validate(old_item) if old_item else None
            if old is None or old.ended_at is not None or at < old.subscribed_at:
                return None
            ended = result["stored"] = old.model_copy(update={"ended_at": at})
            return _stored(ended), record(old)

        _, changed = self._change(contact_id, f"{COURSE_PREFIX}{course_id}", decide)
        return result["stored"], changed

    def course_subscriptions(self, contact_id: str) -> list[CourseSubscription]:
        """Every course subscription, ended ones too (``CourseSubscription.active(now)`` tells)."""
        return [CourseSubscription.model_validate(item) for item in self._query(contact_id, COURSE_PREFIX)]

    def course_subscription(self, contact_id: str, course_id: str) -> CourseSubscription | None:
        found = self._get(contact_id, f"{COURSE_PREFIX}{course_id}")
        return CourseSubscription.model_validate(found) if found else None

    def has_active_course_subscription(
        self, contact_id: str, course_id: str | None = None, now: datetime | None = None
    ) -> bool:
        """Whether the contact currently has a subscription (to ``course_id``, or to any course):
        started and not ended at ``now`` (default: the clock's now)."""
        at = now or clock.now()
        if course_id is not None:
            found = self.course_subscription(contact_id, course_id)
            return found is not None and found.active(at)
        return any(sub.active(at) for sub in self.course_subscriptions(contact_id))

    # -------------------------------------------------------------- membership access

    def set_access(
        self,
        contact_id: str,
        site: str,
        status: AccessStatus,
        record: Callable[[str | None], HistoryEntry],
        visit: str | None = None,
    ) -> tuple[str | None, bool]:
        """Set the access status to ``site``; returns the previous status (None: never set) and
        whether it changed."""

        def decide(old: dict[str, Any] | None) -> tuple[dict[str, Any], HistoryEntry] | None:
            previous = old["status"] if old else None
            if previous == status:
                return None
            access = MembershipAccess(site=site, status=status, changed_at=clock.now())
            return _stored(access), record(previous)

        old, changed = self._change(contact_id, f"{ACCESS_PREFIX}{site}", decide, visit)
        return (old["status"] if old else None), changed

    def access(self, contact_id: str) -> dict[str, MembershipAccess]:
        """Membership access by site."""
        found = (MembershipAccess.model_validate(item) for item in self._query(contact_id, ACCESS_PREFIX))
        return {access.site: access for access in found}

    # -------------------------------------------------------------- internals

    def _change(
        self, contact_id: str, sk: str, decide: Decide, visit: str | None = None
    ) -> tuple[dict[str, Any] | None, bool]:
        """Read the item, let ``decide`` say what to write, write it with its history entry in one
        transaction conditional on what was read; re-read when another writer got there first.
        Returns the item as read before the change and whether anything was written."""
        key = {"pk": _pk(contact_id), "sk": sk}
        for attempt in range(_WRITE_ATTEMPTS):
            old = self._get_item(key)
            decision = decide(_plain(old))
            if decision is None:
                return _plain(old), False
            new, history = decision
            guard: dict[str, Any] = (
                {"ConditionExpression": "attribute_not_exists(pk)"}
                if old is None
                else {"ConditionExpression": "rev = :rev", "ExpressionAttributeValues": to_item({":rev": old["rev"]})}
            )
            if new is None:
                write = {"Delete": {"TableName": self.table, "Key": to_item(key), **guard}}
            else:
                item = {**new, **key, "rev": (old["rev"] + 1) if old else 1}
                write = {"Put": {"TableName": self.table, "Item": to_item(item), **guard}}
            recorded = (
                effect_writes(self.table, contact_id, visit, history)
                if visit
                else [{"Put": {"TableName": self.table, "Item": _history_item(contact_id, history)}}]
            )
            try:
                self._db.transact_write_items(TransactItems=[write, *recorded])
            except ClientError as exc:
                if is_conflict(exc) or (
                    _error_code(exc) == "TransactionCanceledException"
                    and _cancellation_codes(exc)[:1] == ["ConditionalCheckFailed"]
                ):
                    _backoff(attempt)
                    continue  # changed under us, or another writer had it: decide again on what is there now
                if visit and _error_code(exc) == "TransactionCanceledException":
                    effect_refused(exc, len(recorded))
                raise
            return _plain(old), True
        raise WriteConflict(f"{sk} of contact {contact_id} kept changing; gave up after {_WRITE_ATTEMPTS} attempts")

    def _get_item(self, key: dict[str, str]) -> dict[str, Any] | None:
        found = self._db.get_item(TableName=self.table, Key=to_item(key), ConsistentRead=True).get("Item")
        return from_item(found) if found else None

    def _get(self, contact_id: str, sk: str) -> dict[str, Any] | None:
        return _plain(self._get_item({"pk": _pk(contact_id), "sk": sk}))

    def _query(self, contact_id: str, prefix: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        pages = self._db.get_paginator("query").paginate(
            TableName=self.table,
            ConsistentRead=True,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues=to_item({":pk": _pk(contact_id), ":prefix": prefix}),
        )
        for page in pages:
            items.extend(from_item({k: v for k, v in item.items() if k not in ("pk", "sk")}) for item in page["Items"])
        return items


def _purchase_sk(product_id: str, purchase: str) -> str:
    return f"{PURCHASE_PREFIX}{product_id}#{purchase}"


def _plain(item: dict[str, Any] | None) -> dict[str, Any] | None:
    """The stored attributes without the key."""
    if item is None:
        return None
    return {k: v for k, v in item.items() if k not in ("pk", "sk")}


def _same_offer(old: Offer, new: Offer) -> bool:
    keep = {"offer_id", "products", "discount", "code", "expires_at"}
    return old.model_dump(include=keep) == new.model_dump(include=keep)


# ------------------------------------------------------------------ reading for merge fields


def current_offers(contact_id: str, now: datetime | None = None, store: CommerceStore | None = None) -> list[Offer]:
    """The contact's offers that have not expired, the most recently created or updated first."""
    at = now or clock.now()
    live = [offer for offer in (store or CommerceStore()).offers(contact_id) if offer.active(at)]
    return sorted(live, key=lambda offer: (offer.updated_at, offer.offer_id), reverse=True)
